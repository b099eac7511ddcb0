/**
 * Sparkplug B 3.0 edge-node forwarding (DESIGN.md "Zones and conduits", reliability.md §1).
 *
 * - CONNECT: clean session, Will = NDEATH (QoS 1) carrying a bdSeq that is incremented for every
 *   CONNECT, wraps 255 -> 0 and is persisted in the queue folder before the CONNECT is sent, so it
 *   survives a restart.
 * - Subscribes to exactly two topics: its own NCMD and, when configured, the primary host's STATE.
 *   NCMD honours only `Node Control/Rebirth` = true (a new NBIRTH with the same bdSeq); every
 *   other command, and a malformed one, is refused and counted. DCMD is never subscribed to.
 * - With a primary host: BIRTH only after STATE online=true (not older than the last one seen);
 *   STATE online=false (not older than the last online) -> NDEATH, disconnect, start over.
 * - NBIRTH lists every metric learned so far (name, alias, datatype, last value) plus bdSeq and
 *   Node Control/Rebirth; a record with a metric the BIRTH did not list triggers a new NBIRTH
 *   first. NDATA goes by alias, QoS 0, seq 0..255.
 * - Delivery: a record counts as delivered once the broker has read the NDATA that carried it,
 *   in a live session whose host is online: NDATA is QoS 0, so the socket write is not enough;
 *   the answer to a PINGREQ written after it is the proof (write-barrier.ts). What a broken link
 *   swallowed is replayed after the next BIRTH. Records queued before the current BIRTH are
 *   flushed with is_historical = true.
 * - Packet size: an MQTT 5 broker announces its maximum packet size in CONNACK and drops a client
 *   that sends more (0x95; mosquitto max_packet_size, cloud brokers' 128-256 KiB limits). An NBIRTH
 *   over it is not sent (a BIRTH cannot be split; spec): reported once per session, data stays
 *   queued. An NDATA over it is split into several; a single metric over it is quarantined.
 *   Before, the conduit looped for ever: NBIRTH, 0x95, reconnect, NBIRTH (22 sessions in 8 s).
 * - After a failover, or a link the broker's side ended (issue 19), the last delivered records
 *   (resend-window.ts) are written again first, right after the new NBIRTH: NDATA of the new
 *   session, so with its seq numbers (1, 2, ... after the NBIRTH's 0), by the aliases that
 *   NBIRTH declared, and every metric flagged is_historical (Sparkplug B 3.0, Payload:
 *   "is_historical ... this is historical data and should not update real time tag values"), so
 *   a host that already had them stores a duplicate without moving the tag's current value back (NBIRTH carried it).
 */
import * as path from "path";
import type { IClientOptions, MqttClient } from "mqtt";
import { DataType, buildTopic, decodePayload, encodePayload, stateTopic, type MetricValue, type SparkplugMetric } from "../shared/sparkplug";
import { decodeMetricRecord, readBdSeq, writeBdSeq } from "./sparkplug-records";
import type { ConduitConfig } from "./conduit-config";
import type { DurableQueue } from "./queue/durable-queue";
import { RateLimiter } from "./rate-limiter";
import type { QueueRecord } from "./queue/record";
import { ResendWindow } from "./resend-window";
import { WriteBarrier } from "./write-barrier";
import { publishPacketSize } from "./plain-forwarder";

export interface SparkplugCounters {
  bdSeq: number;
  births: number;
  rebirths: number;
  refusedCommands: number;
  hostOnline: boolean;
  historical: number;
}

export interface SparkplugHooks {
  onRefusedCommand(what: string): void;
  onFault(err: Error): void;
  onQuarantine(record: QueueRecord, reason: string): void;
  onRestartSession(): void;
}

const REBIRTH = "Node Control/Rebirth";
const METRICS_PER_DATA = 500;
/**
 * NDATA messages written and not yet confirmed by the broker (write-barrier.ts): at most this
 * many x METRICS_PER_DATA records go into a link that turns out dead, all replayed. 4 cost about
 * a quarter of the throughput once each write waited for its PINGRESP; 16 did not (to mosquitto).
 */
const DATA_IN_FLIGHT = 16;
/** How long close() waits for the broker to confirm what was written, before the NDEATH. */
const CLOSE_CONFIRM_MS = 1000;

interface Written {
  gen: number;
  records: QueueRecord[];
  /** Re-sent from the window after a failover (settled there, not in the queue). */
  resent: boolean;
}

interface Known {
  alias: number;
  datatype: DataType;
  value: MetricValue | null;
  ts: number;
}

export class SparkplugForwarder {
  private client: MqttClient | null = null;
  private barrier: WriteBarrier<Written> | null = null;
  private generation = 0;
  private bdSeq: number;
  private seq = 0;
  /** The last delivered records, written again after a lost link or a failover (issue 19). */
  readonly resend: ResendWindow;
  private born = false;
  /** This session's NBIRTH was over the broker's limit (reported once per session). */
  private birthTooLarge = false;
  private hostOnline: boolean;
  private lastStateTs = 0;
  private historicalBelow = 0;
  private inflight = 0;
  private pumpScheduled = false;
  private wakeTimer: NodeJS.Timeout | null = null;
  private readonly limiter: RateLimiter;
  private readonly known = new Map<string, Known>();
  private readonly bdSeqFile: string;
  private readonly stats = { births: 0, rebirths: 0, refusedCommands: 0, historical: 0 };
  private readonly topics: { birth: string; data: string; death: string; cmd: string; state: string | null };

  constructor(private readonly queue: DurableQueue, cfg: ConduitConfig, private readonly hooks: SparkplugHooks) {
    const sp = cfg.sparkplug!;
    this.resend = new ResendWindow(cfg.resend);
    const id = { group: sp.group, edgeNode: sp.edgeNode };
    this.topics = {
      birth: buildTopic({ ...id, type: "NBIRTH" }),
      data: buildTopic({ ...id, type: "NDATA" }),
      death: buildTopic({ ...id, type: "NDEATH" }),
      cmd: buildTopic({ ...id, type: "NCMD" }),
      state: sp.primaryHost ? stateTopic(sp.primaryHost) : null,
    };
    this.hostOnline = !sp.primaryHost;
    this.bdSeqFile = path.join(cfg.queue.dir, "sparkplug-bdseq");
    this.bdSeq = readBdSeq(this.bdSeqFile);
    this.limiter = new RateLimiter(cfg.rateLimit);
    queue.on("committed", () => this.schedulePump());
  }

  get connected(): boolean {
    return this.client !== null;
  }

  counters(): SparkplugCounters {
    return { bdSeq: this.bdSeq, hostOnline: this.hostOnline, ...this.stats };
  }

  /** Called for every CONNECT: the next bdSeq, persisted first, and the NDEATH will that carries it. */
  connectOptions(): Partial<IClientOptions> {
    this.bdSeq = (this.bdSeq + 1) % 256;
    writeBdSeq(this.bdSeqFile, this.bdSeq);
    return { will: { topic: this.topics.death, payload: Buffer.from(this.deathPayload()), qos: 1, retain: false } };
  }

  /** `broker`: which broker the link is to (resend-window.ts decides what is sent again). */
  attach(client: MqttClient, broker = ""): void {
    this.generation++;
    this.resend.attach(broker);
    this.barrier?.close();
    this.barrier = new WriteBarrier<Written>(client, (w) => this.onConfirmed(w));
    this.client = client;
    this.born = false;
    this.birthTooLarge = false;
    this.inflight = 0;
    this.hostOnline = !this.topics.state;
    const gen = this.generation;
    client.on("message", (topic, payload) => {
      if (gen === this.generation) this.onMessage(topic, payload);
    });
    const subs: Record<string, { qos: 0 | 1 }> = { [this.topics.cmd]: { qos: 1 } };
    if (this.topics.state) subs[this.topics.state] = { qos: 1 };
    // Spec: subscribe to NCMD (and STATE) before NBIRTH.
    client.subscribe(subs, (err, granted) => {
      if (gen !== this.generation) return;
      const denied = (granted ?? []).filter((g) => (g.qos & 0x80) !== 0).map((g) => g.topic);
      if (err || denied.length > 0) {
        // Without NCMD (and STATE) this edge node must not BIRTH: data stays queued, loudly.
        this.hooks.onFault(new Error(`Sparkplug: cannot subscribe to ${denied.join(", ") || Object.keys(subs).join(", ")}: ${err?.message ?? "denied by the broker"}; data stays queued`));
        return;
      }
      if (this.hostOnline) this.birth();
    });
  }

  /** `brokerSide`: the broker or the network ended the link, not the conduit (resend-window.ts). */
  detach(brokerSide = false): void {
    this.generation++;
    this.barrier?.close();
    this.barrier = null;
    this.client = null;
    this.born = false;
    this.inflight = 0;
    this.resend.lost(brokerSide);
    this.queue.rewind();
  }

  async close(): Promise<void> {
    const client = this.client;
    // Intentional disconnect: NDEATH first, then DISCONNECT (which suppresses the will).
    if (client && this.born) {
      await this.barrier?.drain(CLOSE_CONFIRM_MS);
      await new Promise<void>((resolve) => client.publish(this.topics.death, Buffer.from(this.deathPayload()), { qos: 0 }, () => resolve()));
      await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    }
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
    this.detach();
  }

  private deathPayload(): Uint8Array {
    return encodePayload({ timestamp: Date.now(), metrics: [{ name: "bdSeq", datatype: DataType.Int64, value: BigInt(this.bdSeq) }] });
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic === this.topics.state) return this.onState(payload);
    if (topic !== this.topics.cmd) return this.refuse(`message on unexpected topic ${topic}`);
    let metrics: SparkplugMetric[];
    try {
      metrics = decodePayload(payload).metrics;
    } catch (err) {
      return this.refuse(`malformed NCMD: ${(err as Error).message}`);
    }
    const rebirth = metrics.find((m) => m.name === REBIRTH && m.value === true);
    const others = metrics.filter((m) => m !== rebirth);
    for (const m of others) this.refuse(`NCMD ${m.name ?? `alias ${m.alias}`} (only ${REBIRTH} is honoured)`);
    if (rebirth && this.client && this.hostOnline) {
      this.stats.rebirths++;
      this.birth();
    }
  }

  private onState(payload: Buffer): void {
    let state: { online?: unknown; timestamp?: unknown };
    try {
      state = JSON.parse(payload.toString("utf8")) as typeof state;
    } catch {
      return this.refuse("malformed STATE message");
    }
    const ts = typeof state.timestamp === "number" ? state.timestamp : 0;
    if (ts < this.lastStateTs) return; // an older STATE must not change anything (TCK PrimaryHostTest)
    this.lastStateTs = ts;
    if (state.online === true && !this.hostOnline) {
      this.hostOnline = true;
      this.birth();
    } else if (state.online === false && this.hostOnline) {
      this.hostOnline = false;
      const client = this.client;
      if (client && this.born) client.publish(this.topics.death, Buffer.from(this.deathPayload()), { qos: 0 });
      this.born = false;
      this.hooks.onRestartSession();
    }
  }

  private refuse(what: string): void {
    this.stats.refusedCommands++;
    this.hooks.onRefusedCommand(what);
  }

  /** The MQTT 5 broker's maximum packet size (CONNACK), or 0 when it announced none. */
  private maxPacket(client: MqttClient): number {
    return (client as unknown as { connackPacket?: { properties?: { maximumPacketSize?: number } } }).connackPacket?.properties?.maximumPacketSize ?? 0;
  }

  private fits(client: MqttClient, topic: string, bytes: Uint8Array): boolean {
    const max = this.maxPacket(client);
    return max === 0 || publishPacketSize({ topic, payload: bytes } as QueueRecord) <= max;
  }

  /**
   * NBIRTH with every known metric; the backlog queued before it is flushed as historical.
   * False when it was not sent (no link, or over the broker's maximum packet size).
   */
  private birth(): boolean {
    const client = this.client;
    if (!client) return false;
    const ts = Date.now();
    this.seq = 0;
    const metrics: SparkplugMetric[] = [
      { name: "bdSeq", datatype: DataType.Int64, value: BigInt(this.bdSeq), timestamp: ts },
      { name: REBIRTH, datatype: DataType.Boolean, value: false, timestamp: ts },
    ];
    for (const [name, k] of this.known) {
      metrics.push({ name, alias: k.alias, datatype: k.datatype, value: k.value, isNull: k.value === null, timestamp: k.ts });
    }
    const bytes = Buffer.from(encodePayload({ timestamp: ts, seq: 0, metrics }));
    if (!this.fits(client, this.topics.birth, bytes)) {
      this.born = false;
      if (!this.birthTooLarge) {
        this.birthTooLarge = true;
        this.hooks.onFault(new Error(`Sparkplug: the NBIRTH (${metrics.length} metrics, ${bytes.length} bytes) is larger than the broker's maximum packet size ${this.maxPacket(client)}; ` +
          "no BIRTH, so no data: raise the broker's limit or publish fewer metrics through this conduit; data stays queued"));
      }
      return false;
    }
    if (!this.born) this.historicalBelow = this.queue.nextSequence;
    client.publish(this.topics.birth, bytes, { qos: 0 });
    this.born = true;
    this.stats.births++;
    this.schedulePump();
    return true;
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.client && this.born && this.hostOnline && this.inflight < DATA_IN_FLIGHT) {
      const allowed = this.limiter.take(METRICS_PER_DATA);
      if (allowed === 0) return this.wakeLater();
      if (this.resend.waiting > 0) {
        this.resendSome(allowed);
        continue;
      }
      const records = this.queue.take(allowed);
      this.limiter.refund(allowed - records.length);
      if (records.length === 0) return;
      const client = this.client;
      const gen = this.generation;
      const metrics: SparkplugMetric[] = [];
      const learned: string[] = [];
      const sent: QueueRecord[] = [];
      for (const r of records) {
        // A record that is not a valid metric (e.g. queued while this conduit was in plain
        // mode) is quarantined, never guessed at, and never allowed to stop the pump.
        const decoded = validMetric(r);
        if (typeof decoded === "string") {
          this.hooks.onQuarantine(r, decoded);
          continue;
        }
        const { datatype, value } = decoded;
        sent.push(r);
        let k = this.known.get(r.topic);
        if (!k || k.datatype !== datatype) {
          k = { alias: k?.alias ?? this.known.size + 1, datatype, value, ts: r.ts };
          this.known.set(r.topic, k);
          learned.push(r.topic);
        }
        k.value = value;
        k.ts = r.ts;
        const historical = r.seq < this.historicalBelow;
        if (historical) this.stats.historical++;
        metrics.push({ alias: k.alias, datatype, value, isNull: value === null, timestamp: r.ts, isHistorical: historical || undefined });
      }
      if (sent.length === 0) continue;
      // DATA may only use metrics the BIRTH declared: a new one means a new BIRTH first. Without
      // it the records taken stay in flight, unsettled, and replay with the next link.
      if (learned.length > 0 && !this.birth()) return;
      this.publishData(client, gen, metrics, sent, false);
    }
  }

  /** One NDATA, or several when one would be over the broker's maximum packet size. */
  private publishData(client: MqttClient, gen: number, metrics: SparkplugMetric[], records: QueueRecord[], resent: boolean): void {
    const bytes = Buffer.from(encodePayload({ timestamp: Date.now(), seq: (this.seq + 1) % 256, metrics }));
    if (!this.fits(client, this.topics.data, bytes)) {
      if (metrics.length > 1) {
        const half = Math.ceil(metrics.length / 2);
        this.publishData(client, gen, metrics.slice(0, half), records.slice(0, half), resent);
        this.publishData(client, gen, metrics.slice(half), records.slice(half), resent);
        return;
      }
      const r = records[0]!;
      if (resent) this.resend.settled(r, false);
      else this.hooks.onQuarantine(r, `one metric in an NDATA of ${bytes.length} bytes is larger than the broker's maximum packet size ${this.maxPacket(client)} (MQTT 5 CONNACK)`);
      return;
    }
    this.seq = (this.seq + 1) % 256;
    this.inflight++;
    if (resent) this.resend.resent += records.length;
    client.publish(this.topics.data, bytes, { qos: 0 }, (err) => this.onWritten({ gen, records, resent }, err));
  }

  /**
   * One NDATA of re-sent records, all historical, by the aliases of the current BIRTH; a record
   * whose metric this BIRTH does not declare as that datatype is not re-sent (it never leaves
   * a DATA the host could not decode).
   */
  private resendSome(allowed: number): void {
    const client = this.client!;
    const gen = this.generation;
    const records = this.resend.take(allowed);
    this.limiter.refund(allowed - records.length);
    const metrics: SparkplugMetric[] = [];
    const sent: QueueRecord[] = [];
    for (const r of records) {
      const decoded = validMetric(r);
      const k = this.known.get(r.topic);
      if (typeof decoded === "string" || !k || k.datatype !== decoded.datatype) {
        this.resend.settled(r, false);
        continue;
      }
      sent.push(r);
      metrics.push({ alias: k.alias, datatype: k.datatype, value: decoded.value, isNull: decoded.value === null, timestamp: r.ts, isHistorical: true });
    }
    if (sent.length === 0) return;
    this.publishData(client, gen, metrics, sent, true);
  }

  private wakeLater(): void {
    if (this.wakeTimer) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.schedulePump();
    }, this.limiter.retryInMs());
  }

  /**
   * Written to the socket: now wait for the broker's proof of reading it. Without a write the
   * records stay unsettled and are replayed with the link (queue.rewind / resend.lost).
   */
  private onWritten(w: Written, err: Error | undefined): void {
    if (w.gen !== this.generation) return;
    if (err || !this.barrier) {
      this.inflight--;
      this.schedulePump();
      return;
    }
    this.barrier.written(w);
  }

  /** The broker has read the NDATA: its records are delivered (in flight until now). */
  private onConfirmed(w: Written): void {
    if (w.gen !== this.generation) return;
    this.inflight--;
    for (const r of w.records) {
      if (w.resent) {
        this.resend.settled(r, true);
      } else {
        this.queue.settle(r.seq, "delivered");
        this.resend.acknowledged(r);
      }
    }
    this.schedulePump();
  }
}

/** The record's metric, or why it cannot be one (checked by encoding it alone). */
function validMetric(r: QueueRecord): { datatype: DataType; value: MetricValue | null } | string {
  try {
    const m = decodeMetricRecord(r.payload);
    encodePayload({ metrics: [{ name: r.topic, datatype: m.datatype, value: m.value }] });
    return m;
  } catch (err) {
    return `not a valid Sparkplug metric record (${(err as Error).message}); was the queue written in plain mode?`;
  }
}
