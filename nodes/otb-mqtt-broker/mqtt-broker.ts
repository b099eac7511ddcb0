/**
 * One MQTT client shared by every otb-mqtt-in that names the same otb-mqtt-broker (or, for a
 * flow saved before that node existed, one private client per otb-mqtt-in). Free of Node-RED.
 *
 * - One reconnect policy: SharedConnection's capped exponential backoff with jitter. mqtt.js's
 *   own reconnect is off (reconnectPeriod 0) and each attempt gets a fresh client, so there is
 *   never a second client or a second timer retrying behind our back.
 * - Subscriptions belong to the users; after every (re)connect the union of all users'
 *   filters is subscribed on the new client (mqtt.js's `resubscribe` is off: it only knows
 *   what was subscribed on the old client). A message is handed to each user whose own filters
 *   match its topic, once per user, however many of the user's filters match.
 * - Failures are classified (../shared/link-failure.ts: bad credentials, refused or
 *   untrusted certificate, unreachable...) and announced once per outage ("outage" event); the
 *   status of every user shows the retries.
 */
import { EventEmitter } from "events";
import type { IClientOptions, IClientSubscribeOptions, ISubscriptionMap, MqttClient } from "mqtt";
import { SharedConnection, toError, topicMatchesFilter, type ConnectionAdapter, type ConnectionState } from "../shared";
import { brokerDisconnect, classify, LinkFailure } from "../shared/link-failure";
import type { BrokerOptions } from "./broker-config";

export interface Subscription {
  topic: string;
  qos: 0 | 1 | 2;
}

export interface Subscriber {
  filters: Subscription[];
  onMessage(topic: string, payload: Buffer): void;
  /** After each SUBACK for this subscriber's filters: an error, or the filters the broker refused. */
  onSubscribed?(err: Error | null, refused: string[]): void;
}

export interface BrokerCounters {
  connects: number;
  attempts: number;
  messages: number;
  outages: number;
}

export class MqttBroker extends EventEmitter {
  readonly conn: SharedConnection<MqttClient>;
  readonly counters: BrokerCounters = { connects: 0, attempts: 0, messages: 0, outages: 0 };
  /** The reason of the current or last failure, for status lines. */
  lastFailure: LinkFailure | null = null;
  private readonly subscribers = new Map<string, Subscriber>();
  private readonly clientId: string;
  private reportedThisOutage = false;

  /** `idPrefix` starts a generated client id: "otb-mqtt-" for a broker node, "otb-mqtt-in-" (as before) for a node's own connection. */
  constructor(readonly options: BrokerOptions, idSeed: string, idPrefix = "otb-mqtt-") {
    super();
    const seed = idSeed.replace(/[^A-Za-z0-9]/g, "").slice(0, 12);
    // A persistent session needs the same client id after a restart; a clean one gets a random
    // suffix so two copies of one flow (a test rig beside the line) do not take each other over.
    this.clientId = options.clientId || (options.clean ? `${idPrefix}${seed}-${Math.random().toString(16).slice(2, 8)}` : `${idPrefix}${seed}`);
    this.conn = new SharedConnection<MqttClient>(this.adapter(), {
      initialMs: options.reconnectInitialMs,
      maxMs: options.reconnectMaxMs,
      factor: 2,
      jitter: 0.2,
    });
    this.conn.on("state", (state: ConnectionState, detail?: string) => this.onState(state, detail));
  }

  get url(): string {
    return this.options.url;
  }

  /** Adds or replaces a subscriber; subscribes its filters now when connected. */
  subscribe(id: string, sub: Subscriber): void {
    this.subscribers.set(id, sub);
    const client = this.conn.client;
    if (client) this.sendSubscribe(client, [[id, sub]]);
  }

  /** Removes a subscriber; unsubscribes the filters no other subscriber uses. */
  unsubscribe(id: string): void {
    const sub = this.subscribers.get(id);
    if (!sub) return;
    this.subscribers.delete(id);
    const still = new Set([...this.subscribers.values()].flatMap((s) => s.filters.map((f) => f.topic)));
    const gone = sub.filters.map((f) => f.topic).filter((t) => !still.has(t));
    const client = this.conn.client;
    if (client && gone.length) client.unsubscribe(gone, () => undefined);
  }

  publish(topic: string, payload: Buffer, qos: 0 | 1 | 2, cb: (err?: Error) => void): boolean {
    const client = this.conn.client;
    if (!client) return false;
    client.publish(topic, payload, { qos }, (err) => cb(err ?? undefined));
    return true;
  }

  close(): Promise<void> {
    return this.conn.close();
  }

  private onState(state: ConnectionState, detail?: string): void {
    if (state === "connected") {
      this.counters.connects++;
      this.reportedThisOutage = false;
      this.lastFailure = null;
      const client = this.conn.client;
      if (client) this.sendSubscribe(client, [...this.subscribers.entries()]);
    } else if (state === "disconnected") {
      const failure = this.lastFailure ?? classify(new Error(detail ?? "disconnected"));
      if (!this.reportedThisOutage) {
        // Once per outage, not once per retry: the users' status shows the retries.
        this.reportedThisOutage = true;
        this.counters.outages++;
        this.emit("outage", failure);
      }
    }
  }

  /** One SUBSCRIBE for the given subscribers' filters (highest QoS per filter); each hears its own result. */
  private sendSubscribe(client: MqttClient, subs: Array<[string, Subscriber]>): void {
    const map: ISubscriptionMap = {};
    for (const [, s] of subs) for (const f of s.filters) map[f.topic] = { qos: Math.max(f.qos, (map[f.topic] as IClientSubscribeOptions | undefined)?.qos ?? 0) as 0 | 1 | 2 };
    if (Object.keys(map).length === 0) return;
    client.subscribe(map, (err, granted) => {
      // 0x80 (3.1.1) or an MQTT 5 reason code >= 0x80 refuses a filter.
      const refused = new Set((granted ?? []).filter((g) => g.qos >= 128).map((g) => g.topic));
      for (const [, s] of subs) {
        try {
          s.onSubscribed?.(err ? toError(err) : null, s.filters.map((f) => f.topic).filter((t) => refused.has(t)));
        } catch (e) {
          this.emit("warning", `subscribe callback failed: ${toError(e).message}`);
        }
      }
    });
  }

  private dispatch(topic: string, payload: Buffer): void {
    this.counters.messages++;
    for (const s of this.subscribers.values()) {
      if (!s.filters.some((f) => topicMatchesFilter(f.topic, topic))) continue;
      try {
        s.onMessage(topic, payload);
      } catch (err) {
        // One user's fault costs that user one message, never the others or the client.
        this.emit("warning", `message handler failed: ${toError(err).message}`);
      }
    }
  }

  private clientOptions(): IClientOptions {
    const o = this.options;
    const opts: IClientOptions = {
      clientId: this.clientId,
      protocolVersion: o.protocolVersion,
      clean: o.clean,
      keepalive: o.keepaliveS,
      connectTimeout: o.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      // mqtt-packet otherwise fills a process-wide cache of 65,536 two-byte Buffers on the first
      // packet (numbers.js): 6 MB of V8 heap in every Node-RED, for encoding 16-bit numbers.
      writeCache: false,
    };
    if (o.username) opts.username = o.username;
    if (o.password) opts.password = o.password;
    // MQTT 5: a clean start ends the session with the connection; otherwise keep it a day.
    if (o.protocolVersion === 5) opts.properties = { sessionExpiryInterval: o.clean ? 0 : 86_400 };
    if (o.tls) Object.assign(opts, o.tls);
    return opts;
  }

  private adapter(): ConnectionAdapter<MqttClient> {
    const fail = (err: unknown): LinkFailure => (this.lastFailure = classify(err));
    return {
      open: () =>
        new Promise<MqttClient>((resolve, reject) => {
          this.counters.attempts++;
          let client: MqttClient;
          try {
            // mqtt is required on the first connect, not when Node-RED registers the node (issue 19: memory per process).
            client = (require("mqtt") as typeof import("mqtt")).connect(this.options.url, this.clientOptions());
          } catch (err) {
            reject(fail(err));
            return;
          }
          let settled = false;
          let lastError: Error | null = null;
          const began = Date.now();
          const timeoutMs = this.options.connectTimeoutMs;
          // mqtt.js emits "error" for socket, TLS and CONNACK faults: always listened to, never thrown.
          client.on("error", (err) => (lastError = err));
          client.on("disconnect", (packet: { reasonCode?: number; properties?: { reasonString?: string } }) => {
            lastError = brokerDisconnect(packet.reasonCode ?? 0, packet.properties?.reasonString);
          });
          client.on("message", (topic, payload) => {
            if (this.conn.client === client) this.dispatch(topic, payload);
          });
          const finish = (err: Error): void => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            client.end(true);
            reject(fail(err));
          };
          const timer = setTimeout(() => finish(new LinkFailure("timeout", `no CONNACK within ${timeoutMs} ms`)), timeoutMs + 500);
          client.once("connect", () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            client.on("close", () => {
              if (this.conn.client !== client) return;
              const err = lastError ? classify(lastError) : new LinkFailure("closed", "connection closed by the broker or the network");
              this.lastFailure = err;
              this.conn.lost(err);
            });
            resolve(client);
          });
          client.once("close", () => {
            if (lastError) return finish(lastError);
            finish(Date.now() - began >= timeoutMs - 50
              ? new LinkFailure("timeout", `no CONNACK within ${timeoutMs} ms`)
              : new LinkFailure("closed", "connection closed before CONNACK"));
          });
        }),
      close: (client) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 1000);
          t.unref?.();
          try {
            client.end(true, {}, () => {
              clearTimeout(t);
              resolve();
            });
          } catch {
            clearTimeout(t);
            resolve();
          }
        }),
    };
  }
}
