/**
 * Sparkplug B host-side state for reading existing edge nodes: BIRTH alias tables, DATA,
 * DEATH, and sequence numbers. The codec is the pack's one (../shared/sparkplug.ts).
 *
 * - NBIRTH starts a node's session (alias table, seq baseline, bdSeq); DBIRTH adds a device.
 * - NDATA/DDATA resolve metrics by alias or name. DATA before its BIRTH is refused (there is no
 *   way to know what an alias means), unknown aliases are refused and the rest of the message
 *   still decodes. A seq that is not last+1 mod 256 stamps that message's Signals `uncertain`
 *   with reason `seq_gap` (values were lost before them; these ones are still right).
 * - Every metric's value is checked against its datatype (its own, or the BIRTH's when DATA omits
 *   it; metric-check.ts): one that contradicts it (wrong value field, unknown datatype, integer out
 *   of range, non-finite float, datatype changed since the BIRTH) is emitted bad with that reason
 *   and also listed in `rejected`; a metric with no name, or an alias used twice in one BIRTH, has
 *   no tag and is only listed. Counters: metrics = valid + invalid + unknownAliases + skipped.
 * - NDEATH (whose bdSeq matches the BIRTH; a stale Will is ignored) makes every tag of the node
 *   and its devices bad with `comm_lost`; DDEATH does it for one device.
 * Tags are `<edge node>[.<device>].<metric name with / as .>`, stable across sessions; the
 * source address is `spBv1.0/<group>/<edge node>[/<device>]#<metric name>`.
 */
import type { Signal, SignalValue } from "../shared";
import { MAX_TS } from "./json-decoder";
import { decodePayload, parseTopic, type SparkplugMetric, type SparkplugPayload, type TopicParts } from "../shared/sparkplug";
import { checkMetric, type MetricCheck } from "./metric-check";

/** One metric that could not be read as sent; its tag (when it has one) is also emitted bad. */
export interface RejectedMetric {
  reason: string;
  error: string;
  metric?: string;
}

/** `edge` is `<group>/<edge node>`; `birth` says this message began a node's or device's session. */
export type SparkplugResult =
  | { signals: Signal[]; rejected: RejectedMetric[]; edge?: string; birth?: boolean }
  | { error: string; reason: string; edge?: string };

interface Names {
  tag: string;
  address: string;
}

interface DeviceState {
  aliases: Map<number, string>;
  /** Datatype per metric name from the last BIRTH: DATA may omit it (Sparkplug 3.0, 6.4.4). */
  types: Map<string, number>;
  /** Tag and address per metric name, built once; also every tag born here, for a DEATH. */
  names: Map<string, Names>;
  alive: boolean;
  /**
   * Its tags' last values stand as current (emitted, not since marked lost). A device not born
   * again after its node's rebirth is no longer alive but still showing: the node's DEATH must
   * still mark its tags lost.
   */
  showing?: boolean;
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
  /** Metrics in BIRTH and DATA messages: metrics = valid + invalid + unknownAliases + skipped. */
  metrics: number;
  valid: number;
  /** Metrics whose value contradicts their datatype, or that have no name; per reason in invalidByReason. */
  invalid: number;
  invalidByReason: Record<string, number>;
  /** bdSeq, Node Control/*, Device Control/*, Properties/*: session bookkeeping, not sensor values. */
  skipped: number;
}

const SKIP = /^(bdSeq$|Node Control\/|Device Control\/|Properties\/)/;

export class SparkplugDecoder {
  private readonly nodes = new Map<string, NodeState>();
  readonly counters: SparkplugCounters = {
    births: 0, deaths: 0, staleDeaths: 0, seqGaps: 0, dataBeforeBirth: 0, unknownAliases: 0, ignored: 0,
    metrics: 0, valid: 0, invalid: 0, invalidByReason: {}, skipped: 0,
  };

  decode(topic: string, payload: Buffer, receivedAt: number): SparkplugResult | null {
    const parts = parseTopic(topic);
    if (!parts) return { reason: "sparkplug_topic", error: `not a Sparkplug B topic: ${topic}` };
    if (parts.type === "STATE" || parts.type === "NCMD" || parts.type === "DCMD") {
      this.counters.ignored++;
      return null; // host and command traffic is not sensor data
    }
    const key = `${parts.group}/${parts.edgeNode}`;
    let p: SparkplugPayload;
    try {
      p = decodePayload(payload);
    } catch (err) {
      return { reason: "sparkplug_malformed", error: (err as Error).message, edge: key };
    }
    const result = this.dispatch(key, parts, p, topic, receivedAt);
    result.edge = key;
    return result;
  }

  private dispatch(key: string, parts: TopicParts, p: SparkplugPayload, topic: string, receivedAt: number): SparkplugResult {
    switch (parts.type) {
      case "NBIRTH":
        return this.nbirth(key, parts, p, topic, receivedAt);
      case "NDEATH":
        return this.ndeath(key, p, receivedAt);
      case "DDEATH":
        return this.ddeath(key, parts, p, receivedAt);
      default: // DBIRTH, DDATA, NDATA
        return this.data(key, parts, p, topic, receivedAt);
    }
  }

  /** Every tag known to be live, marked bad: for when the broker connection itself drops. */
  allLost(ts: number): Signal[] {
    const out: Signal[] = [];
    for (const node of this.nodes.values()) {
      out.push(...lost(node, ts));
      for (const d of node.devices.values()) out.push(...lost(d, ts));
      // Messages were missed while we were away; the next seq is the new baseline, not a gap.
      node.seq = null;
    }
    return out;
  }

  private nbirth(key: string, parts: TopicParts, p: SparkplugPayload, topic: string, receivedAt: number): SparkplugResult {
    const bdSeq = p.metrics.find((m) => m.name === "bdSeq");
    const prior = this.nodes.get(key);
    const node: NodeState = { aliases: new Map(), types: new Map(), names: prior?.names ?? new Map(), alive: true, showing: prior?.showing, seq: p.seq ?? null, bdSeq: bdSeq ? Number(bdSeq.value) : null, devices: prior?.devices ?? new Map() };
    for (const d of node.devices.values()) d.alive = false; // devices must be born again after their node
    this.nodes.set(key, node);
    this.counters.births++;
    return { ...this.emit(node, parts, p, topic, receivedAt, false), birth: true };
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
      device = { aliases: new Map(), types: new Map(), names: device?.names ?? new Map(), alive: true, showing: device?.showing };
      node.devices.set(deviceId, device);
      this.counters.births++;
    } else if (!device || !device.alive) {
      this.counters.dataBeforeBirth++;
      return { reason: "data_before_birth", error: `DDATA on ${topic} before the device's DBIRTH` };
    }
    const result = this.emit(device, parts, p, topic, receivedAt, gap);
    return parts.type === "DBIRTH" ? { ...result, birth: true } : result;
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
      signals.push(...lost(d, ts));
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

  private emit(state: DeviceState, parts: TopicParts, p: SparkplugPayload, topic: string, receivedAt: number, gap: boolean): SparkplugResult & { signals: Signal[] } {
    const birth = parts.type.endsWith("BIRTH");
    const prefix = parts.device ? `${parts.edgeNode}.${parts.device}` : parts.edgeNode;
    const signals: Signal[] = [];
    const rejected: RejectedMetric[] = [];
    const where = `${parts.type} on ${topic}`;
    for (const m of p.metrics) {
      this.counters.metrics++;
      let name = m.name;
      if (name === "" || (name === undefined && (birth || m.alias === undefined))) {
        // No name, no tag: the value cannot be attributed, so it goes to output 2 only.
        rejected.push(this.invalid("sparkplug:no_name", `${where}: metric ${m.alias !== undefined ? `with alias ${m.alias} ` : ""}has no name`));
        continue;
      }
      if (birth && name !== undefined && m.alias !== undefined) {
        const holder = state.aliases.get(m.alias);
        if (holder !== undefined && holder !== name) {
          rejected.push(this.invalid("sparkplug:duplicate_alias", `${where}: alias ${m.alias} of "${name}" already names "${holder}"`, name));
          continue;
        }
        state.aliases.set(m.alias, name);
      }
      if (name === undefined && m.alias !== undefined) name = state.aliases.get(m.alias);
      if (name === undefined) {
        this.counters.unknownAliases++;
        rejected.push({ reason: "unknown_alias", error: `${where}: alias ${String(m.alias)} is not in the BIRTH` });
        continue;
      }
      let names = state.names.get(name);
      if (!names) {
        if (SKIP.test(name)) {
          this.counters.skipped++;
          continue;
        }
        // The address names the metric, not the message type, so BIRTH and DATA values agree.
        names = { tag: `${prefix}.${name.replace(/\//g, ".")}`, address: `spBv1.0/${parts.group}/${parts.edgeNode}${parts.device ? `/${parts.device}` : ""}#${name}` };
        state.names.set(name, names);
      }
      const check = this.check(state, m, name, birth);
      if (check.ok) this.counters.valid++;
      else rejected.push(this.invalid(check.reason, `${where}: metric "${name}": ${check.detail}`, name));
      signals.push(metricSignal(names, m, check, p, receivedAt, gap));
    }
    if (signals.length) state.showing = true;
    return { signals, rejected };
  }

  /** Checks a metric against its own datatype, or the BIRTH's when DATA leaves it out. */
  private check(state: DeviceState, m: SparkplugMetric, name: string, birth: boolean): MetricCheck {
    if (birth) {
      state.types.set(name, m.datatype);
      return checkMetric(m, m.datatype);
    }
    const born = state.types.get(name);
    if (born !== undefined && m.datatype !== 0 && m.datatype !== born) {
      return { ok: false, reason: "sparkplug:datatype_changed", detail: `datatype ${m.datatype} in DATA, ${born} in the BIRTH` };
    }
    return checkMetric(m, m.datatype || born || 0);
  }

  private invalid(reason: string, error: string, metric?: string): RejectedMetric {
    this.counters.invalid++;
    this.counters.invalidByReason[reason] = (this.counters.invalidByReason[reason] ?? 0) + 1;
    return metric === undefined ? { reason, error } : { reason, error, metric };
  }
}

function metricSignal(names: Names, m: SparkplugMetric, check: MetricCheck, p: SparkplugPayload, receivedAt: number, gap: boolean): Signal {
  const stated = m.timestamp ?? p.timestamp;
  const tsValid = stated === undefined || (stated > 0 && stated <= MAX_TS);
  const s: Signal = { tag: names.tag, value: null, ts: stated !== undefined && tsValid ? stated : receivedAt, quality: "good", source: { protocol: "mqtt", address: names.address } };
  const reasons: string[] = [];
  if (!tsValid) reasons.push("ts_invalid");
  const v = check.ok ? check.value : null;
  if (!check.ok) {
    s.quality = "bad";
    reasons.push(check.reason);
  } else if (v === null) {
    s.quality = "bad";
    reasons.push("null_value");
  } else if (typeof v === "bigint") {
    // Beyond 2^53 a number would round silently; carry such values as strings.
    s.value = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  } else if (v instanceof Uint8Array) {
    s.value = Buffer.from(v).toString("base64");
    reasons.push("bytes_base64");
  } else {
    s.value = v as SignalValue;
  }
  if (m.isHistorical) reasons.push("historical");
  if (gap) reasons.push("seq_gap");
  if ((gap || !tsValid) && s.quality === "good") s.quality = "uncertain";
  if (reasons.length) s.reasons = reasons;
  return s;
}

/** Every tag of `state` bad with comm_lost, unless they were already marked so. */
function lost(state: DeviceState, ts: number): Signal[] {
  const out: Signal[] = [];
  if (!state.showing) return out;
  state.showing = false;
  for (const n of state.names.values()) out.push({ tag: n.tag, value: null, ts, quality: "bad", reasons: ["comm_lost"], source: { protocol: "mqtt", address: n.address } });
  return out;
}
