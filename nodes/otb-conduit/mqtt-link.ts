/**
 * Opens one mqtt.js client per connection attempt, for SharedConnection. Every attempt gets a
 * fresh client with mqtt.js's own reconnect and offline queue turned off: the conduit's
 * durable queue is the only buffer, so mqtt.js never replays a stale in-flight store behind our
 * back (mqttjs#2015, #301). A half-open link is detected by mqtt.js's keepalive (a PINGRESP
 * missing for 1.5 x keepalive closes the socket); `connectTimeout` bounds a CONNECT that goes
 * into a black hole, so data is back within connectTimeout + backoff of a heal.
 *
 * With several broker URLs (issue 19: a cluster, or an active/standby pair) one open() is one
 * round: it tries the brokers in turn, starting after the one last used, and fails only when
 * every one failed, so SharedConnection's capped backoff runs between full rounds, never between
 * two members. The broker that was just lost is tried last. One URL: a round of one, as before.
 */
import type { IClientOptions, MqttClient } from "mqtt";
import type { ConnectionAdapter } from "../shared/shared-connection";
import type { ConduitConfig } from "./conduit-config";
import { LinkFailure, brokerDisconnect, classify, type BrokerPosition } from "../shared/link-failure";

export interface LinkHooks {
  /** Extra CONNECT options for this attempt (the Sparkplug will carries a fresh bdSeq). */
  connectOptions?(): Partial<IClientOptions>;
  /** The client of the current attempt dropped after it had connected. */
  onLost(client: MqttClient, err: Error): void;
  /**
   * The broker sent a packet mqtt.js cannot parse (mosquitto answers an over-size QoS 1 publish
   * with PUBACK 0x95, which MQTT 5 does not allow on PUBACK): the stream is unusable from here.
   */
  onProtocolError(client: MqttClient, err: Error): void;
  /** One attempt in a round failed (the round goes on with the next broker, if any). */
  onAttemptFailed?(failure: LinkFailure): void;
  /** True once the conduit is closing: a round stops between two attempts. */
  stopping?(): boolean;
}

export interface MqttAdapter extends ConnectionAdapter<MqttClient> {
  /** The broker in use, or the one being tried. */
  readonly broker: BrokerPosition;
}

/** Parser and protocol faults carry no numeric reason code; socket errors carry errno strings. */
export function isProtocolError(err: Error): boolean {
  return typeof (err as { code?: unknown }).code !== "string" && /invalid|malformed|protocol error/i.test(err.message);
}

export function clientOptions(cfg: ConduitConfig): IClientOptions {
  const o: IClientOptions = {
    protocolVersion: cfg.protocolVersion,
    clientId: cfg.clientId,
    clean: true,
    keepalive: cfg.keepaliveS,
    connectTimeout: cfg.connectTimeoutMs,
    reconnectPeriod: 0,
    queueQoSZero: false,
    resubscribe: false,
    username: cfg.username,
    password: cfg.password,
    // mqtt-packet otherwise fills a process-wide cache of 65,536 two-byte Buffers on the first
    // packet (numbers.js): 6 MB of V8 heap in every Node-RED, for encoding 16-bit numbers.
    writeCache: false,
  };
  if (cfg.protocolVersion === 5) o.properties = { sessionExpiryInterval: 0 };
  if (cfg.tls) {
    Object.assign(o, {
      ca: cfg.tls.ca,
      cert: cfg.tls.cert,
      key: cfg.tls.key,
      passphrase: cfg.tls.passphrase,
      rejectUnauthorized: cfg.tls.verify,
      servername: cfg.tls.servername,
    });
  }
  return o;
}

export function mqttAdapter(cfg: ConduitConfig, hooks: LinkHooks): MqttAdapter {
  const urls = cfg.urls.length > 0 ? cfg.urls : [cfg.url];
  let next = 0;
  let active = 0;
  const position = (i: number): BrokerPosition => ({ url: urls[i]!, index: i + 1, count: urls.length });
  const open = async (): Promise<MqttClient> => {
    let last: unknown = null;
    for (let k = 0; k < urls.length; k++) {
      if (k > 0 && hooks.stopping?.()) break;
      active = next;
      next = (next + 1) % urls.length;
      try {
        return await attempt(position(active));
      } catch (err) {
        last = err;
        hooks.onAttemptFailed?.(err as LinkFailure);
      }
    }
    throw last;
  };
  const attempt = (broker: BrokerPosition): Promise<MqttClient> =>
    new Promise<MqttClient>((resolve, reject) => {
      let client: MqttClient;
      const rejectWith = (err: unknown): void => reject(classify(err).at(broker));
      try {
        // A wrong key passphrase makes the TLS context fail here, synchronously.
        // mqtt is required on the first connect, not when Node-RED registers the node (issue 19: memory per process).
        client = (require("mqtt") as typeof import("mqtt")).connect(broker.url, { ...clientOptions(cfg), ...hooks.connectOptions?.() });
      } catch (err) {
        rejectWith(err);
        return;
      }
      let settled = false;
      let lastError: Error | null = null;
      const began = Date.now();
      // mqtt.js emits "error" for socket and protocol faults: always listened to, never thrown.
      client.on("error", (err) => {
        lastError = err;
        if (settled && isProtocolError(err)) hooks.onProtocolError(client, err);
      });
      // An MQTT 5 broker says why it drops us (0x8E session taken over, 0x87 not authorised...).
      client.on("disconnect", (packet: { reasonCode?: number; properties?: { reasonString?: string } }) => {
        lastError = brokerDisconnect(packet.reasonCode ?? 0, packet.properties?.reasonString);
      });
      const timer = setTimeout(() => fail(new LinkFailure("timeout", `no CONNACK within ${cfg.connectTimeoutMs} ms`)), cfg.connectTimeoutMs + 500);
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.end(true);
        rejectWith(err);
      };
      client.once("connect", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.on("close", () => hooks.onLost(client, (lastError ? classify(lastError) : new LinkFailure("closed", "connection closed by the broker or the network")).at(broker)));
        resolve(client);
      });
      client.once("close", () => {
        if (lastError) return fail(lastError);
        // mqtt.js closes without an error when its own connectTimeout passes without a CONNACK.
        fail(Date.now() - began >= cfg.connectTimeoutMs - 50
          ? new LinkFailure("timeout", `no CONNACK within ${cfg.connectTimeoutMs} ms`)
          : new LinkFailure("closed", "connection closed before CONNACK"));
      });
    });
  return {
    open,
    get broker() {
      return position(active);
    },
    close: (client) =>
      new Promise<void>((resolve) => {
        try {
          client.end(true, {}, () => resolve());
        } catch {
          resolve();
        }
        setTimeout(resolve, 1000).unref?.();
      }),
  };
}
