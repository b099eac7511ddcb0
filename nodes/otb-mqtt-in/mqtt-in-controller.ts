/**
 * One otb-mqtt-in on its broker connection (an otb-mqtt-broker's, shared, or a legacy node's
 * own): decodes JSON (json-decoder.ts) or Sparkplug B (sparkplug-decoder.ts) into Signal[]
 * batches on output 1; every payload that could not be read, and every Sparkplug metric whose
 * value contradicts its datatype, goes to output 2 and to Catch (a Sparkplug edge node's problems
 * once per reason until its next BIRTH: report-limiter.ts). A lost connection marks every tag
 * seen so far bad with comm_lost, once per outage.
 */
import type { NodeContext } from "../shared/define-node";
import { ConnectionError, ValidationError } from "../shared/errors";
import type { NodeMessage } from "../shared/red";
import type { ConnectionState } from "../shared/shared-connection";
import { buildTopic, DataType, encodePayload, parseTopic } from "../shared/sparkplug";
import type { Signal } from "../shared/types";
import type { MqttBroker } from "../otb-mqtt-broker/mqtt-broker";
import { JsonDecoder } from "./json-decoder";
import type { MqttInOptions } from "./mqtt-in-config";
import { ReportLimiter } from "./report-limiter";
import type { MqttInFields } from "./schema";
import { SparkplugDecoder, type SparkplugResult } from "./sparkplug-decoder";

/** At most one rebirth request per edge node in this long. */
const REBIRTH_INTERVAL_MS = 10_000;

interface MqttInCounters {
  messages: number;
  values: number;
  batches: number;
  refused: number;
  rebirthRequests: number;
  /** Catch reports withheld (same edge node and reason already reported since its last BIRTH). */
  suppressedReports: number;
}

export class MqttInController {
  readonly counters: MqttInCounters = { messages: 0, values: 0, batches: 0, refused: 0, rebirthRequests: 0, suppressedReports: 0 };
  private readonly json: JsonDecoder;
  private readonly sparkplug = new SparkplugDecoder();
  private readonly limiter = new ReportLimiter();
  private readonly lastRebirth = new Map<string, number>();
  private pending: Signal[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private flushSoon: NodeJS.Immediate | null = null;
  private up = false;

  /** `own`: the node's private connection (a legacy node), closed with it; else a user of a shared one. */
  constructor(private readonly ctx: NodeContext<MqttInFields>, private readonly options: MqttInOptions, private readonly broker: MqttBroker, private readonly own: boolean) {
    this.json = new JsonDecoder(options.mapping);
    Object.assign(ctx.node, { stats: () => ({ ...this.counters, sparkplug: { ...this.sparkplug.counters }, broker: { ...broker.counters } }) });
    broker.subscribe(ctx.node.id, {
      filters: options.subscriptions,
      onMessage: (topic, payload) => this.onMessage(topic, payload),
      onSubscribed: (err, refused) => {
        if (err) return ctx.report(new ConnectionError(`subscribe failed: ${err.message}`));
        if (refused.length) return ctx.report(new ConnectionError(`broker refused subscription to ${refused.join(", ")}`));
        ctx.status.waiting(`subscribed to ${options.subscriptions.length} topic(s)`);
      },
    });
    broker.conn.register(ctx.node, { onState: (state, detail) => this.onState(state, detail) });
  }

  async close(removed: boolean): Promise<void> {
    this.flush();
    this.broker.unsubscribe(this.ctx.node.id);
    if (this.own) await this.broker.close();
    else await this.broker.conn.deregister(this.ctx.node, removed);
  }

  /**
   * Window 0 still batches what arrives together: mqtt.js hands over every packet of one
   * socket read in the same turn of the event loop, and those leave as one Signal[] at the
   * end of that turn (setImmediate), so a burst costs one Node-RED message, not hundreds, and
   * a lone message waits for nothing.
   */
  private emit(signals: Signal[]): void {
    if (signals.length === 0) return;
    for (const s of signals) this.pending.push(s);
    if (this.pending.length >= this.options.maxBatch) this.flush();
    else if (this.options.batchMs === 0) this.flushSoon ??= setImmediate(() => this.flush());
    else this.flushTimer ??= setTimeout(() => this.flush(), this.options.batchMs);
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.flushSoon) clearImmediate(this.flushSoon);
    this.flushTimer = null;
    this.flushSoon = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length) this.send(batch);
  }

  private send(batch: Signal[]): void {
    const { counters, ctx } = this;
    counters.batches++;
    counters.values += batch.length;
    ctx.node.send([{ payload: batch, topic: batch[0]!.source.address.split("#")[0] }, null]);
    const bad = batch.filter((s) => s.quality === "bad").length;
    if (bad === batch.length) ctx.status.down(`${batch[0]!.reasons?.[0] ?? "bad"}: ${bad} tags`);
    else ctx.status.flowing(`${counters.values} values${counters.refused ? `, ${counters.refused} refused` : ""}`);
  }

  /** Output 2 always; Catch unless `edge` already reported this reason since its last BIRTH. */
  private refuse(topic: string, payload: Buffer, reason: string, message: string, edge?: string, metric?: string): void {
    this.counters.refused++;
    const msg = { topic, payload, reason, refusedCount: this.counters.refused, error: { message, reason } } as unknown as NodeMessage & Record<string, unknown>;
    if (metric !== undefined) msg.metric = metric;
    this.ctx.node.send([null, msg]);
    if (edge !== undefined && !this.limiter.first(edge, reason)) {
      this.counters.suppressedReports = this.limiter.suppressed;
      return;
    }
    const more = edge === undefined ? "" : `; further ${reason} from ${edge} go to output 2 only, until its next BIRTH`;
    this.ctx.report(new ValidationError(`${reason}: ${message}${more}`), msg);
  }

  private onSparkplug(topic: string, payload: Buffer, result: SparkplugResult): void {
    const { options } = this;
    if ("error" in result) {
      if (result.reason === "data_before_birth") {
        const asked = options.requestRebirth && this.requestRebirth(topic);
        const hint = options.requestRebirth ? (asked ? " (rebirth requested)" : "") : " (tick 'ask for a rebirth' to request one, or wait for its next BIRTH)";
        this.refuse(topic, payload, result.reason, `${result.error}${hint}`, result.edge);
        this.ctx.status.waiting(`waiting for BIRTH from ${this.limiter.waitingForBirth()} edge node(s)`);
        return;
      }
      return this.refuse(topic, payload, result.reason, result.error, result.edge);
    }
    if (result.birth && result.edge) this.limiter.reset(result.edge);
    this.emit(result.signals);
    for (const r of result.rejected) {
      // An unknown alias means the BIRTH this node holds is not the edge node's current one.
      if (r.reason === "unknown_alias" && options.requestRebirth) this.requestRebirth(topic);
      this.refuse(topic, payload, r.reason, r.error, result.edge, r.metric);
    }
  }

  private onMessage(topic: string, payload: Buffer): void {
    this.counters.messages++;
    try {
      const format = this.options.format;
      const sp = format === "sparkplug" || (format === "auto" && topic.startsWith("spBv1.0/"));
      const now = Date.now();
      if (sp) {
        const result = this.sparkplug.decode(topic, payload, now);
        if (result) this.onSparkplug(topic, payload, result);
      } else {
        const result = this.json.decode(topic, payload, now);
        if ("error" in result) return this.refuse(topic, payload, result.reason, result.error);
        this.emit(result.signals);
      }
    } catch (err) {
      // A decoder bug must cost one message, never the runtime.
      this.refuse(topic, payload, "decoder_fault", (err as Error).message);
    }
  }

  /**
   * NCMD Node Control/Rebirth to the edge node of `topic`, at most once per REBIRTH_INTERVAL_MS
   * per node (a lost NCMD is asked again after that). True when one was sent now.
   */
  private requestRebirth(topic: string): boolean {
    const parts = parseTopic(topic);
    if (!parts || parts.type === "STATE" || !this.broker.conn.client) return false;
    const key = `${parts.group}/${parts.edgeNode}`;
    const now = Date.now();
    if (now - (this.lastRebirth.get(key) ?? 0) < REBIRTH_INTERVAL_MS) return false;
    this.lastRebirth.set(key, now);
    this.counters.rebirthRequests++;
    const ncmd = encodePayload({ timestamp: now, metrics: [{ name: "Node Control/Rebirth", datatype: DataType.Boolean, value: true }] });
    this.broker.publish(buildTopic({ group: parts.group, type: "NCMD", edgeNode: parts.edgeNode }), Buffer.from(ncmd), 0, (err) => {
      if (err) this.ctx.node.warn(`rebirth request to ${key} failed: ${err.message}`);
    });
    return true;
  }

  /** The shared connection's state, as this node shows it; a lost link makes every seen tag comm_lost, once. */
  private onState(state: ConnectionState, detail?: string): void {
    const { status } = this.ctx;
    if (state === "connecting") status.waiting(detail ? `connecting (${detail})` : "connecting");
    else if (state === "connected") {
      this.up = true;
      status.waiting(`connected, subscribing to ${this.options.subscriptions.length} topic(s)`);
    } else if (state === "disconnected") {
      status.down(`comm_lost: ${this.broker.lastFailure?.summary ?? detail ?? "disconnected"}`.slice(0, 60));
      if (!this.up) return;
      this.up = false;
      const now = Date.now();
      this.emit([...this.json.allLost(now), ...this.sparkplug.allLost(now)]);
      this.flush();
    }
  }
}
