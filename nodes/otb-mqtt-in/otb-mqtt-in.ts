/**
 * otb-mqtt-in: reads existing IIoT sensors over MQTT, JSON (json-decoder.ts) or Sparkplug B
 * (sparkplug-decoder.ts), into Signal[] batches on output 1. Output 2 carries every payload
 * that could not be read (raw payload, topic, reason) and every Sparkplug metric whose value
 * contradicts its datatype (also emitted bad on output 1); node.error fires for each, so a Catch
 * node sees it, except that a Sparkplug edge node's problems are reported once per reason until
 * its next BIRTH (report-limiter.ts). Nothing is dropped without a count. A lost broker
 * connection marks every tag seen so far bad with comm_lost, once per outage.
 *
 * The connection is an otb-mqtt-broker config node's, shared with every otb-mqtt-in naming it.
 * A node saved before that node existed holds the broker URL itself in `broker` (with its own
 * clientId, protocolVersion, tls and credentials): it keeps a private connection built from
 * those fields, runs unchanged, and says once how to move to a broker node.
 */
import { ConfigError, ConnectionError, onClose, reportError, StatusReporter, ValidationError, type ConnectionState, type Signal } from "../shared";
import type { Node, NodeAPI, NodeDef, NodeMessage } from "../shared/red";
import { JsonDecoder } from "./json-decoder";
import { parseMqttInConfig, type MqttInOptions, type OtbMqttInDef } from "./mqtt-in-config";
import { ReportLimiter } from "./report-limiter";
import { SparkplugDecoder, type SparkplugResult } from "./sparkplug-decoder";
import { buildTopic, DataType, encodePayload, parseTopic } from "../shared/sparkplug";
import { isLegacyBrokerValue, legacyBrokerOptions, type BrokerCredentials } from "../otb-mqtt-broker/broker-config";
import { reportOutages, tlsOptions, type OtbMqttBrokerNode } from "../otb-mqtt-broker/broker-glue";
import { MqttBroker } from "../otb-mqtt-broker/mqtt-broker";

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

export = function (RED: NodeAPI): void {
  function OtbMqttIn(this: Node & { credentials?: BrokerCredentials }, def: OtbMqttInDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusReporter(node, { idleAfterMs: 30_000 });
    const counters: MqttInCounters = { messages: 0, values: 0, batches: 0, refused: 0, rebirthRequests: 0, suppressedReports: 0 };
    const limiter = new ReportLimiter();
    const lastRebirth = new Map<string, number>();
    let options: MqttInOptions;
    let broker: MqttBroker;
    let privateBroker = false;
    try {
      options = parseMqttInConfig(def);
      const ref = String(def.broker ?? "").trim();
      const config = ref && !isLegacyBrokerValue(ref) ? (RED.nodes.getNode(ref) as unknown as OtbMqttBrokerNode | null) : null;
      if (config) {
        if (!config.mqtt) throw new ConfigError(`broker node "${config.name || ref}" is not usable: ${config.configError ?? "not started"}`);
        broker = config.mqtt;
      } else if (isLegacyBrokerValue(ref)) {
        broker = new MqttBroker(legacyBrokerOptions(def, node.credentials ?? {}, tlsOptions(RED, def.tls)), node.id, "otb-mqtt-in-");
        privateBroker = true;
        reportOutages(broker, node, broker.url);
        node.warn(`this node keeps its own connection to ${broker.url}, as nodes saved before otb-mqtt-broker did; it runs unchanged. ` +
          "To share one connection (one client, one login) between nodes, open it in the editor and press 'Move to a broker node', then deploy.");
      } else {
        throw new ConfigError(ref ? `broker: no otb-mqtt-broker ${ref} is deployed (deleted or disabled?)` : "no MQTT broker selected");
      }
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
    (node as unknown as { stats: () => unknown }).stats = () => ({ ...counters, sparkplug: { ...sparkplug.counters }, broker: { ...broker.counters } });

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
      if (!parts || parts.type === "STATE" || !broker.conn.client) return false;
      const key = `${parts.group}/${parts.edgeNode}`;
      const now = Date.now();
      if (now - (lastRebirth.get(key) ?? 0) < REBIRTH_INTERVAL_MS) return false;
      lastRebirth.set(key, now);
      counters.rebirthRequests++;
      const ncmd = encodePayload({ timestamp: now, metrics: [{ name: "Node Control/Rebirth", datatype: DataType.Boolean, value: true }] });
      broker.publish(buildTopic({ group: parts.group, type: "NCMD", edgeNode: parts.edgeNode }), Buffer.from(ncmd), 0, (err) => {
        if (err) node.warn(`rebirth request to ${key} failed: ${err.message}`);
      });
      return true;
    }

    /** The shared connection's state, as this node shows it; a lost link makes every seen tag comm_lost, once. */
    function onState(state: ConnectionState, detail?: string): void {
      const topics = `${options.subscriptions.length} topic(s)`;
      if (state === "connecting") status.waiting(detail ? `connecting (${detail})` : "connecting");
      else if (state === "connected") {
        up = true;
        status.waiting(`connected, subscribing to ${topics}`);
      } else if (state === "disconnected") {
        status.down(`comm_lost: ${broker.lastFailure?.summary ?? detail ?? "disconnected"}`.slice(0, 60));
        if (!up) return;
        up = false;
        emit([...json.allLost(Date.now()), ...sparkplug.allLost(Date.now())]);
        flush();
      }
    }

    broker.subscribe(node.id, {
      filters: options.subscriptions,
      onMessage,
      onSubscribed(err, refused) {
        if (err) return reportError(node, new ConnectionError(`subscribe failed: ${err.message}`));
        if (refused.length) return reportError(node, new ConnectionError(`broker refused subscription to ${refused.join(", ")}`));
        status.waiting(`subscribed to ${options.subscriptions.length} topic(s)`);
      },
    });
    broker.conn.register(node, { onState });

    onClose(node, async (removed) => {
      flush();
      status.close();
      broker.unsubscribe(node.id);
      if (privateBroker) await broker.close();
      else await broker.conn.deregister(node, removed);
    }, 3000);
  }
  RED.nodes.registerType("otb-mqtt-in", OtbMqttIn as unknown as (this: Node, def: NodeDef) => void, {
    credentials: { username: { type: "text" }, password: { type: "password" } },
  } as never);
};
