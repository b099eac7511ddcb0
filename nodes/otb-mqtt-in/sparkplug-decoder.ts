/**
 * Sparkplug B host-side state for reading existing edge nodes: BIRTH alias tables, DATA,
 * DEATH, and sequence numbers. The codec is the pack's one (../shared/sparkplug.ts).
 *
 * - NBIRTH starts a node's session (alias table, seq baseline, bdSeq); DBIRTH adds a device.
 * - NDATA/DDATA resolve metrics by alias or name. DATA before its BIRTH is refused (there is no
 *   way to know what an alias means), unknown aliases are refused and the rest of the message
 *   still decodes. A seq that is not last+1 mod 256 stamps that message's Signals `uncertain`
 *   with reason `seq_gap` (values were lost before them; these ones are still right).
 * - NDEATH (whose bdSeq matches the BIRTH; a stale Will is ignored) makes every tag of the node
 *   and its devices bad with `comm_lost`; DDEATH does it for one device.
 * Tags are `<edge node>[.<device>].<metric name with / as .>`, stable across sessions; the
 * source address is `spBv1.0/<group>/<edge node>[/<device>]#<metric name>`.
 */
import type { Signal, SignalValue } from "../shared";
import { MAX_TS } from "./json-decoder";
import { DataType, decodePayload, parseTopic, type SparkplugMetric, type SparkplugPayload, type TopicParts } from "../shared/sparkplug";

export type SparkplugResult =
  | { signals: Signal[]; rejected: Array<{ reason: string; error: string }> }
  | { error: string; reason: string };

interface Names {
  tag: string;
  address: string;
}

interface DeviceState {
  aliases: Map<number, string>;
  /** Tag and address per metric name, built once; also every tag born here, for a DEATH. */
  names: Map<string, Names>;
  alive: boolean;
}

interface NodeState extends DeviceState {
  seq: number | null;
  bdSeq: number | null;
  devices: Map<string, DeviceState>;
}

export interface SparkplugCounters {
  births: number;
  deaths: number;
  staleDeaths: number;
  seqGaps: number;
  dataBeforeBirth: number;
  unknownAliases: number;
  ignored: number;
}

const SKIP = /^(bdSeq$|Node Control\/|Device Control\/|Properties\/)/;

export class SparkplugDecoder {
  private readonly nodes = new Map<string, NodeState>();
  readonly counters: SparkplugCounters = { births: 0, deaths: 0, staleDeaths: 0, seqGaps: 0, dataBeforeBirth: 0, unknownAliases: 0, ignored: 0 };

  decode(topic: string, payload: Buffer, receivedAt: number): SparkplugResult | null {
    const parts = parseTopic(topic);
    if (!parts) return { reason: "sparkplug_topic", error: `not a Sparkplug B topic: ${topic}` };
    if (parts.type === "STATE" || parts.type === "NCMD" || parts.type === "DCMD") {
      this.counters.ignored++;
      return null; // host and command traffic is not sensor data
    }
    let p: SparkplugPayload;
    try {
      p = decodePayload(payload);
    } catch (err) {
      return { reason: "sparkplug_malformed", error: (err as Error).message };
    }
    const key = `${parts.group}/${parts.edgeNode}`;
    switch (parts.type) {
      case "NBIRTH":
        return this.nbirth(key, parts, p, topic, receivedAt);
      case "DBIRTH":
      case "DDATA":
      case "NDATA":
        return this.data(key, parts, p, topic, receivedAt);
      case "NDEATH":
        return this.ndeath(key, p, receivedAt);
      case "DDEATH":
        return this.ddeath(key, parts, p, receivedAt);
    }
  }

  /** Every tag known to be live, marked bad: for when the broker connection itself drops. */
  allLost(ts: number): Signal[] {
    const out: Signal[] = [];
    for (const node of this.nodes.values()) {
      if (!node.alive) continue;
      out.push(...lost(node, ts));
      for (const d of node.devices.values()) if (d.alive) out.push(...lost(d, ts));
      // Messages were missed while we were away; the next seq is the new baseline, not a gap.
      node.seq = null;
    }
    return out;
  }

  private nbirth(key: string, parts: TopicParts, p: SparkplugPayload, topic: string, receivedAt: number): SparkplugResult {
    const bdSeq = p.metrics.find((m) => m.name === "bdSeq");
    const prior = this.nodes.get(key);
    const node: NodeState = { aliases: new Map(), names: prior?.names ?? new Map(), alive: true, seq: p.seq ?? null, bdSeq: bdSeq ? Number(bdSeq.value) : null, devices: prior?.devices ?? new Map() };
    for (const d of node.devices.values()) d.alive = false; // devices must be born again after their node
    this.nodes.set(key, node);
    this.counters.births++;
    return this.emit(node, parts, p, topic, receivedAt, false);
  }

  private data(key: string, parts: TopicParts, p: SparkplugPayload, topic: string, receivedAt: number): SparkplugResult {
    const node = this.nodes.get(key);
    if (!node || !node.alive) {
      this.counters.dataBeforeBirth++;
      return { reason: "data_before_birth", error: `${parts.type} on ${topic} before the node's NBIRTH` };
    }
    const gap = this.checkSeq(node, p);
    if (parts.type === "NDATA") return this.emit(node, parts, p, topic, receivedAt, gap);
    const deviceId = parts.device!;
    let device = node.devices.get(deviceId);
    if (parts.type === "DBIRTH") {
      device = { aliases: new Map(), names: device?.names ?? new Map(), alive: true };
      node.devices.set(deviceId, device);
      this.counters.births++;
    } else if (!device || !device.alive) {
      this.counters.dataBeforeBirth++;
      return { reason: "data_before_birth", error: `DDATA on ${topic} before the device's DBIRTH` };
    }
    return this.emit(device, parts, p, topic, receivedAt, gap);
  }

  private ndeath(key: string, p: SparkplugPayload, receivedAt: number): SparkplugResult {
    const node = this.nodes.get(key);
    const bdSeq = p.metrics.find((m) => m.name === "bdSeq");
    if (!node || !node.alive || (bdSeq && node.bdSeq !== null && Number(bdSeq.value) !== node.bdSeq)) {
      // A Will from an older session arriving after the new BIRTH says nothing about now.
      this.counters.staleDeaths++;
      return { signals: [], rejected: [] };
    }
    this.counters.deaths++;
    node.alive = false;
    const ts = p.timestamp !== undefined && p.timestamp > 0 && p.timestamp <= MAX_TS ? p.timestamp : receivedAt;
    const signals = lost(node, ts);
    for (const d of node.devices.values()) {
      if (d.alive) signals.push(...lost(d, ts));
      d.alive = false;
    }
    return { signals, rejected: [] };
  }

  private ddeath(key: string, parts: TopicParts, p: SparkplugPayload, receivedAt: number): SparkplugResult {
    const device = this.nodes.get(key)?.devices.get(parts.device!);
    if (!device || !device.alive) {
      this.counters.staleDeaths++;
      return { signals: [], rejected: [] };
    }
    const node = this.nodes.get(key)!;
    this.checkSeq(node, p);
    this.counters.deaths++;
    device.alive = false;
    const ts = p.timestamp !== undefined && p.timestamp > 0 && p.timestamp <= MAX_TS ? p.timestamp : receivedAt;
    return { signals: lost(device, ts), rejected: [] };
  }

  /** True when this message's seq is not the one after the last. */
  private checkSeq(node: NodeState, p: SparkplugPayload): boolean {
    if (p.seq === undefined) return false;
    const expected = node.seq === null ? null : (node.seq + 1) % 256;
    node.seq = p.seq;
    if (expected !== null && p.seq !== expected) {
      this.counters.seqGaps++;
      return true;
    }
    return false;
  }

  private emit(state: DeviceState, parts: TopicParts, p: SparkplugPayload, topic: string, receivedAt: number, gap: boolean): SparkplugResult {
    const birth = parts.type.endsWith("BIRTH");
    const prefix = parts.device ? `${parts.edgeNode}.${parts.device}` : parts.edgeNode;
    const signals: Signal[] = [];
    const rejected: Array<{ reason: string; error: string }> = [];
    for (const m of p.metrics) {
      let name = m.name;
      if (birth && name !== undefined && m.alias !== undefined) state.aliases.set(m.alias, name);
      if (name === undefined && m.alias !== undefined) name = state.aliases.get(m.alias);
      if (name === undefined) {
        this.counters.unknownAliases++;
        rejected.push({ reason: "unknown_alias", error: `${parts.type} on ${topic}: alias ${String(m.alias)} is not in the BIRTH` });
        continue;
      }
      let names = state.names.get(name);
      if (!names) {
        if (SKIP.test(name)) continue;
        // The address names the metric, not the message type, so BIRTH and DATA values agree.
        names = { tag: `${prefix}.${name.replace(/\//g, ".")}`, address: `spBv1.0/${parts.group}/${parts.edgeNode}${parts.device ? `/${parts.device}` : ""}#${name}` };
        state.names.set(name, names);
      }
      signals.push(metricSignal(names, m, p, receivedAt, gap));
    }
    return { signals, rejected };
  }
}

function metricSignal(names: Names, m: SparkplugMetric, p: SparkplugPayload, receivedAt: number, gap: boolean): Signal {
  const stated = m.timestamp ?? p.timestamp;
  const tsValid = stated === undefined || (stated > 0 && stated <= MAX_TS);
  const s: Signal = { tag: names.tag, value: null, ts: stated !== undefined && tsValid ? stated : receivedAt, quality: "good", source: { protocol: "mqtt", address: names.address } };
  const reasons: string[] = [];
  if (!tsValid) reasons.push("ts_invalid");
  const v = m.value;
  if (m.isNull || v === null || v === undefined) {
    s.quality = "bad";
    reasons.push("null_value");
  } else if (typeof v === "bigint") {
    // Beyond 2^53 a number would round silently; carry such values as strings.
    s.value = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  } else if (v instanceof Uint8Array) {
    s.value = Buffer.from(v).toString("base64");
    reasons.push("bytes_base64");
  } else if (typeof v === "number" && !Number.isFinite(v)) {
    s.quality = "bad";
    reasons.push("not_finite");
  } else {
    s.value = v as SignalValue;
  }
  if (m.datatype === DataType.Unknown && s.quality === "good") reasons.push("sparkplug:unknown_datatype");
  if (m.isHistorical) reasons.push("historical");
  if (gap) reasons.push("seq_gap");
  if ((gap || !tsValid) && s.quality === "good") s.quality = "uncertain";
  if (reasons.length) s.reasons = reasons;
  return s;
}

function lost(state: DeviceState, ts: number): Signal[] {
  const out: Signal[] = [];
  for (const n of state.names.values()) out.push({ tag: n.tag, value: null, ts, quality: "bad", reasons: ["comm_lost"], source: { protocol: "mqtt", address: n.address } });
  return out;
}
