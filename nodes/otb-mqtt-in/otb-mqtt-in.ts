/**
 * otb-mqtt-in: reads existing IIoT sensors over MQTT, JSON (json-decoder.ts) or Sparkplug B
 * (sparkplug-decoder.ts), into Signal[] batches on output 1. Output 2 carries every payload
 * that could not be read (raw payload, topic, reason) and every Sparkplug metric whose value
 * contradicts its datatype (also emitted bad on output 1); node.error fires for each, so a Catch
 * node sees it, except that a Sparkplug edge node's problems are reported once per reason until
 * its next BIRTH (report-limiter.ts). Nothing is dropped without a count. A lost broker
 * connection marks every tag seen so far bad with comm_lost, once per outage.
 */
import * as mqtt from "mqtt";
import { backoffDelay, onClose, reportError, StatusReporter, ValidationError, ConnectionError, type Signal } from "../shared";
import type { Node, NodeAPI, NodeDef, NodeMessage } from "../shared/red";
import { JsonDecoder } from "./json-decoder";
import { parseMqttInConfig, type MqttInOptions, type OtbMqttInDef } from "./mqtt-in-config";
import { ReportLimiter } from "./report-limiter";
import { SparkplugDecoder, type SparkplugResult } from "./sparkplug-decoder";
import { buildTopic, DataType, encodePayload, parseTopic } from "../shared/sparkplug";

/** At most one rebirth request per edge node in this long. */
const REBIRTH_INTERVAL_MS = 10_000;

interface Credentials {
  username?: string;
  password?: string;
}

interface TlsConfigNode {
  addTLSOptions(opts: Record<string, unknown>): void;
}

interface MqttInCounters {
  messages: number;
  values: number;
  batches: number;
  refused: number;
  rebirthRequests: number;
  /** Catch reports withheld (same edge node and reason already reported since its last BIRTH). */
  suppressedReports: number;
}

export = function (RED: NodeAPI): void {
  function OtbMqttIn(this: Node & { credentials?: Credentials }, def: OtbMqttInDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusReporter(node, { idleAfterMs: 30_000 });
    const counters: MqttInCounters = { messages: 0, values: 0, batches: 0, refused: 0, rebirthRequests: 0, suppressedReports: 0 };
    const limiter = new ReportLimiter();
    const lastRebirth = new Map<string, number>();
    let client: mqtt.MqttClient | null = null;
    let options: MqttInOptions;
    try {
      options = parseMqttInConfig(def);
    } catch (err) {
      status.error(`config: ${(err as Error).message}`.slice(0, 60));
      setImmediate(() => reportError(node, err, { payload: null, topic: def.name || def.id }));
      return;
    }
    const json = new JsonDecoder(options.mapping);
    const sparkplug = new SparkplugDecoder();
    let pending: Signal[] = [];
    let flushTimer: NodeJS.Timeout | null = null;
    let flushSoon: NodeJS.Immediate | null = null;
    let up = false;
    let attempt = 0;
    (node as unknown as { stats: () => unknown }).stats = () => ({ ...counters, sparkplug: { ...sparkplug.counters } });

    /**
     * Window 0 still batches what arrives together: mqtt.js hands over every packet of one
     * socket read in the same turn of the event loop, and those leave as one Signal[] at the
     * end of that turn (setImmediate), so a burst costs one Node-RED message, not hundreds, and
     * a lone message waits for nothing.
     */
    function emit(signals: Signal[]): void {
      if (signals.length === 0) return;
      for (const s of signals) pending.push(s);
      if (pending.length >= options.maxBatch) flush();
      else if (options.batchMs === 0) flushSoon ??= setImmediate(flush);
      else flushTimer ??= setTimeout(flush, options.batchMs);
    }

    function flush(): void {
      if (flushTimer) clearTimeout(flushTimer);
      if (flushSoon) clearImmediate(flushSoon);
      flushTimer = null;
      flushSoon = null;
      const batch = pending;
      pending = [];
      if (batch.length) send(batch);
    }

    function send(batch: Signal[]): void {
      counters.batches++;
      counters.values += batch.length;
      node.send([{ payload: batch, topic: batch[0].source.address.split("#")[0] }, null]);
      const bad = batch.filter((s) => s.quality === "bad").length;
      const text = `${counters.values} values${counters.refused ? `, ${counters.refused} refused` : ""}`;
      if (bad === batch.length) status.down(`${batch[0].reasons?.[0] ?? "bad"}: ${bad} tags`);
      else status.flowing(text);
    }

    /** Output 2 always; Catch unless `edge` already reported this reason since its last BIRTH. */
    function refuse(topic: string, payload: Buffer, reason: string, message: string, edge?: string, metric?: string): void {
      counters.refused++;
      const msg = { topic, payload, reason, refusedCount: counters.refused, error: { message, reason } } as unknown as NodeMessage & Record<string, unknown>;
      if (metric !== undefined) msg.metric = metric;
      node.send([null, msg]);
      if (edge !== undefined && !limiter.first(edge, reason)) {
        counters.suppressedReports = limiter.suppressed;
        return;
      }
      const more = edge === undefined ? "" : `; further ${reason} from ${edge} go to output 2 only, until its next BIRTH`;
      node.error(new ValidationError(`${reason}: ${message}${more}`), msg);
    }

    function onSparkplug(topic: string, payload: Buffer, result: SparkplugResult): void {
      if ("error" in result) {
        if (result.reason === "data_before_birth") {
          const asked = options.requestRebirth && requestRebirth(topic);
          const hint = options.requestRebirth ? (asked ? " (rebirth requested)" : "") : " (tick 'ask for a rebirth' to request one, or wait for its next BIRTH)";
          refuse(topic, payload, result.reason, `${result.error}${hint}`, result.edge);
          status.waiting(`waiting for BIRTH from ${limiter.waitingForBirth()} edge node(s)`);
          return;
        }
        return refuse(topic, payload, result.reason, result.error, result.edge);
      }
      if (result.birth && result.edge) limiter.reset(result.edge);
      emit(result.signals);
      for (const r of result.rejected) {
        // An unknown alias means the BIRTH this node holds is not the edge node's current one.
        if (r.reason === "unknown_alias" && options.requestRebirth) requestRebirth(topic);
        refuse(topic, payload, r.reason, r.error, result.edge, r.metric);
      }
    }

    function onMessage(topic: string, payload: Buffer): void {
      counters.messages++;
      try {
        const sp = options.format === "sparkplug" || (options.format === "auto" && topic.startsWith("spBv1.0/"));
        const now = Date.now();
        if (sp) {
          const result = sparkplug.decode(topic, payload, now);
          if (result) onSparkplug(topic, payload, result);
        } else {
          const result = json.decode(topic, payload, now);
          if ("error" in result) return refuse(topic, payload, result.reason, result.error);
          emit(result.signals);
        }
      } catch (err) {
        // A decoder bug must cost one message, never the runtime.
        refuse(topic, payload, "decoder_fault", (err as Error).message);
      }
    }

    /**
     * NCMD Node Control/Rebirth to the edge node of `topic`, at most once per REBIRTH_INTERVAL_MS
     * per node (a lost NCMD is asked again after that). True when one was sent now.
     */
    function requestRebirth(topic: string): boolean {
      const parts = parseTopic(topic);
      if (!parts || parts.type === "STATE" || !client) return false;
      const key = `${parts.group}/${parts.edgeNode}`;
      const now = Date.now();
      if (now - (lastRebirth.get(key) ?? 0) < REBIRTH_INTERVAL_MS) return false;
      lastRebirth.set(key, now);
      counters.rebirthRequests++;
      const ncmd = encodePayload({ timestamp: now, metrics: [{ name: "Node Control/Rebirth", datatype: DataType.Boolean, value: true }] });
      client.publish(buildTopic({ group: parts.group, type: "NCMD", edgeNode: parts.edgeNode }), Buffer.from(ncmd), { qos: 0 }, (err) => {
        if (err) node.warn(`rebirth request to ${key} failed: ${err.message}`);
      });
      return true;
    }

    function connect(): void {
      const opts: mqtt.IClientOptions = {
        clientId: options.clientId || `otb-mqtt-in-${node.id.replace(/[^A-Za-z0-9]/g, "").slice(0, 12)}-${Math.random().toString(16).slice(2, 8)}`,
        protocolVersion: options.protocolVersion,
        clean: true,
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        keepalive: 30,
      };
      if (node.credentials?.username) opts.username = node.credentials.username;
      if (node.credentials?.password) opts.password = node.credentials.password;
      if (def.tls) {
        const tls = RED.nodes.getNode(def.tls) as unknown as TlsConfigNode | null;
        tls?.addTLSOptions(opts as Record<string, unknown>);
      }
      status.waiting("connecting");
      client = mqtt.connect(options.url, opts);
      client.on("connect", () => {
        up = true;
        attempt = 0;
        client!.options.reconnectPeriod = 1000;
        status.waiting(`connected, ${options.subscriptions.length} topic(s)`);
        const subs: mqtt.ISubscriptionMap = {};
        for (const s of options.subscriptions) subs[s.topic] = { qos: s.qos };
        client!.subscribe(subs, (err, granted) => {
          if (err) return reportError(node, new ConnectionError(`subscribe failed: ${err.message}`));
          const refused = (granted ?? []).filter((g) => g.qos >= 128); // 0x80 (3.1.1) or a v5 reason code
          if (refused.length) reportError(node, new ConnectionError(`broker refused subscription to ${refused.map((g) => g.topic).join(", ")}`));
        });
      });
      client.on("message", onMessage);
      client.on("close", () => {
        // Back off with jitter (mqtt.js alone would retry every second forever).
        if (client) client.options.reconnectPeriod = backoffDelay(attempt++, { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 });
        if (!up) return;
        up = false;
        status.down("comm_lost: broker connection closed");
        emit([...json.allLost(Date.now()), ...sparkplug.allLost(Date.now())]);
        flush();
        reportError(node, new ConnectionError(`MQTT connection to ${options.url} lost`), { payload: null, topic: options.url });
      });
      client.on("error", (err) => {
        if (!up) status.down(`comm_lost: ${err.message}`.slice(0, 60));
      });
    }

    onClose(node, async () => {
      flush();
      status.close();
      const c = client;
      client = null;
      if (c) await new Promise<void>((resolve) => c.end(true, {}, () => resolve()));
    }, 3000);

    connect();
  }
  RED.nodes.registerType("otb-mqtt-in", OtbMqttIn as unknown as (this: Node, def: NodeDef) => void, {
    credentials: { username: { type: "text" }, password: { type: "password" } },
  } as never);
};
