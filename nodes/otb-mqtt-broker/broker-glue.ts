/** Node-RED glue shared by otb-mqtt-broker and by an otb-mqtt-in that keeps its own (pre-broker-node) connection. */
import { ConnectionError } from "../shared/errors";
import { reportError } from "../shared/node-kit";
import type { Node, NodeAPI } from "../shared/red";
import type { LinkFailure } from "../shared/link-failure";
import type { BrokerCredentials } from "./broker-config";
import type { MqttBroker } from "./mqtt-broker";

export interface TlsConfigNode {
  addTLSOptions(opts: Record<string, unknown>): void;
}

export interface OtbMqttBrokerNode extends Node<BrokerCredentials> {
  users: Record<string, Node>;
  /** The shared connection; null when the node's configuration is refused (configError says why). */
  mqtt: MqttBroker | null;
  configError: string | null;
}

/** TLS options from a core tls-config node (the runner checked it is deployed), or null when none is selected. */
export function tlsOptions(RED: NodeAPI, tlsId: string | undefined): Record<string, unknown> | null {
  if (!tlsId) return null;
  const tls = RED.nodes.getNode(tlsId) as unknown as TlsConfigNode | null;
  if (!tls || typeof tls.addTLSOptions !== "function") throw new Error(`TLS configuration ${tlsId} is not deployed`);
  const opts: Record<string, unknown> = {};
  tls.addTLSOptions(opts);
  return opts;
}

/** Wires a broker's once-per-outage announcements to `reporter` (Catch, log) and its warnings to the log. */
export function reportOutages(broker: MqttBroker, reporter: Node, describe: string): void {
  broker.on("outage", (failure: LinkFailure) => {
    const wasUp = broker.counters.connects > 0;
    reportError(reporter, new ConnectionError(`MQTT connection to ${describe} ${wasUp ? "lost" : "failed"}: ${failure.message}`), {
      payload: null, topic: broker.url, error: { message: failure.message, reason: failure.failure },
    });
  });
  broker.on("warning", (text: string) => reporter.warn(text));
  broker.conn.on("state", (state: string) => {
    if (state === "connected") reporter.log(`connected to ${describe}`);
  });
}
