/**
 * otb-mqtt-broker: the config node for one MQTT broker connection. It owns the one mqtt.js
 * client that every otb-mqtt-in naming it shares (mqtt-broker.ts), with one reconnect policy.
 * Its `users` are those nodes, so its errors reach their Catch nodes (Flow.handleError routes a
 * global config node's error to its users). Credentials live in Node-RED's credential store.
 */
import { defineNode } from "../shared/define-node";
import type { Node, NodeAPI } from "../shared/red";
import { brokerFromConfig, type BrokerCredentials } from "./broker-config";
import { reportOutages, tlsOptions, type OtbMqttBrokerNode } from "./broker-glue";
import { MqttBroker } from "./mqtt-broker";
import { schema } from "./schema";

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    configNode: true,
    create(ctx) {
      const options = brokerFromConfig(ctx.config, ctx.credentials as BrokerCredentials, tlsOptions(RED, ctx.config.tls));
      const broker = new MqttBroker(options, ctx.node.id);
      const node = ctx.node as OtbMqttBrokerNode;
      // One users map: the connection's. Node-RED routes this node's status and errors to the
      // nodes in `users`; the runner registers users there (none yet: config nodes start first).
      Object.assign(broker.conn.users, node.users);
      Object.assign(node, { configError: null, mqtt: broker, users: broker.conn.users });
      reportOutages(broker, node, ctx.config.name ? `${ctx.config.name} (${options.url})` : options.url);
      return { close: () => broker.close() };
    },
    failed(node: Node, err: Error) {
      Object.assign(node as OtbMqttBrokerNode, { configError: err.message, mqtt: null });
    },
  });
};
