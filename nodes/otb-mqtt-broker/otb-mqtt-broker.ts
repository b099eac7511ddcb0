/**
 * otb-mqtt-broker: the config node for one MQTT broker connection. It owns the one mqtt.js
 * client that every otb-mqtt-in naming it shares (mqtt-broker.ts), with one reconnect policy.
 * Its `users` are those nodes, so its errors reach their Catch nodes (Flow.handleError routes a
 * global config node's error to its users). Credentials live in Node-RED's credential store.
 */
import { onClose, reportError } from "../shared";
import type { Node, NodeAPI, NodeDef } from "../shared/red";
import { parseBrokerConfig, type OtbMqttBrokerDef } from "./broker-config";
import { reportOutages, tlsOptions, type OtbMqttBrokerNode } from "./broker-glue";
import { MqttBroker } from "./mqtt-broker";

export = function (RED: NodeAPI): void {
  function OtbMqttBroker(this: OtbMqttBrokerNode, def: OtbMqttBrokerDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    node.users = {};
    node.mqtt = null;
    node.configError = null;
    try {
      const options = parseBrokerConfig(def, node.credentials ?? {}, tlsOptions(RED, def.tls));
      const broker = new MqttBroker(options, node.id);
      node.mqtt = broker;
      node.users = broker.conn.users;
      reportOutages(broker, node, def.name ? `${def.name} (${options.url})` : options.url);
    } catch (err) {
      node.configError = (err as Error).message;
      setImmediate(() => reportError(node, err, { payload: null, topic: def.name || def.id }));
    }
    onClose(node, async () => {
      await node.mqtt?.close();
    });
  }
  RED.nodes.registerType("otb-mqtt-broker", OtbMqttBroker as unknown as (this: Node, def: NodeDef) => void, {
    credentials: { username: { type: "text" }, password: { type: "password" } },
  } as never);
};
