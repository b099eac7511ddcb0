/**
 * otb-modbus-device: the config node for one Modbus device or RS-485 wire. It owns the one
 * modbus-serial client and the one request queue that every otb-modbus-in reading from it
 * shares (modbus-device.ts), and reconnects with backoff. Its `users` are the reader nodes, so
 * its errors reach their Catch nodes.
 */
import { ConnectionError, onClose, reportError, type ConnectionState } from "../shared";
import type { Node, NodeAPI, NodeDef } from "../shared/red";
import { describeDevice, parseDeviceConfig, type OtbModbusDeviceDef, type OtbModbusDeviceNode } from "./device-config";
import { ModbusDevice } from "./modbus-device";

export = function (RED: NodeAPI): void {
  function OtbModbusDevice(this: OtbModbusDeviceNode, def: OtbModbusDeviceDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    node.users = {};
    node.configError = null;
    node.device = null;
    try {
      const options = parseDeviceConfig(def);
      const device = new ModbusDevice(options);
      node.device = device;
      node.users = device.conn.users;
      const where = describeDevice(options);
      let wasUp = false;
      let reportedDown = false;
      device.conn.on("state", (state: ConnectionState, detail?: string) => {
        if (state === "connected") {
          wasUp = true;
          reportedDown = false;
          node.log(`connected to ${where}`);
        } else if (state === "disconnected" && (wasUp || !reportedDown)) {
          // Once per outage, not once per retry: the status shows the retries.
          wasUp = false;
          reportedDown = true;
          reportError(node, new ConnectionError(`modbus ${where}: ${detail ?? "disconnected"}`), { payload: null, device: where });
        }
      });
    } catch (err) {
      node.configError = (err as Error).message;
      setImmediate(() => reportError(node, err, { payload: null, device: def.name || def.id }));
    }
    onClose(node, async () => {
      await node.device?.close();
    });
  }
  RED.nodes.registerType("otb-modbus-device", OtbModbusDevice as unknown as (this: Node, def: NodeDef) => void);
};
