/**
 * otb-mqtt-in: reads existing IIoT sensors over MQTT, JSON or Sparkplug B, into Signal[]
 * batches on output 1; output 2 carries every payload that could not be read. The behaviour
 * lives in mqtt-in-controller.ts; this file is the glue.
 *
 * The connection is an otb-mqtt-broker config node's, shared with every otb-mqtt-in naming it.
 * A node saved before that node existed holds the broker URL itself in `broker` (with its own
 * clientId, protocolVersion, tls and credentials): the runner leaves that value alone (the
 * schema's legacyValue), and the node keeps a private connection built from those fields, runs
 * unchanged, and says once how to move to a broker node.
 */
import { defineNode, type NodeContext } from "../shared/define-node";
import type { NodeAPI } from "../shared/red";
import { isLegacyBrokerValue, legacyBrokerOptions, type BrokerCredentials } from "../otb-mqtt-broker/broker-config";
import { reportOutages, tlsOptions, type OtbMqttBrokerNode } from "../otb-mqtt-broker/broker-glue";
import { MqttBroker } from "../otb-mqtt-broker/mqtt-broker";
import { mqttInFromConfig } from "./mqtt-in-config";
import { MqttInController } from "./mqtt-in-controller";
import { schema, type MqttInFields } from "./schema";

/** The node's connection: its broker node's (checked deployed and usable by the runner), or its own. */
function connectionOf(RED: NodeAPI, ctx: NodeContext<MqttInFields>): { broker: MqttBroker; own: boolean } {
  const c = ctx.config;
  if (!isLegacyBrokerValue(c.broker)) return { broker: (RED.nodes.getNode(c.broker) as unknown as OtbMqttBrokerNode).mqtt!, own: false };
  const broker = new MqttBroker(legacyBrokerOptions(c, ctx.credentials as BrokerCredentials, tlsOptions(RED, c.tls)), ctx.node.id, "otb-mqtt-in-");
  reportOutages(broker, ctx.node, broker.url);
  ctx.node.warn(`this node keeps its own connection to ${broker.url}, as nodes saved before otb-mqtt-broker did; it runs unchanged. ` +
    "To share one connection (one client, one login) between nodes, open it in the editor and press 'Move to a broker node', then deploy.");
  return { broker, own: true };
}

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    status: { idleAfterMs: 30_000 },
    closeTimeoutMs: 3000,
    create(ctx) {
      const options = mqttInFromConfig(ctx.config);
      const { broker, own } = connectionOf(RED, ctx);
      return new MqttInController(ctx, options, broker, own);
    },
  });
};
