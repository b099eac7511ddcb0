/**
 * otb-modbus-device: the config node for one Modbus device or RS-485 wire. It owns the one
 * modbus-serial client and the one request queue that every otb-modbus-in reading from it
 * shares (modbus-device.ts), and reconnects with backoff. Its `users` are the reader nodes, so
 * its errors reach their Catch nodes.
 */
import { defineNode, type NodeContext } from "../shared/define-node";
import { ConfigError, ConnectionError } from "../shared/errors";
import type { Node, NodeAPI } from "../shared/red";
import type { ConnectionState } from "../shared/shared-connection";
import { describeDevice, deviceFromConfig, type OtbModbusDeviceNode } from "./device-config";
import { ModbusDevice } from "./modbus-device";
import type { DeviceFields } from "./schema";
import { schema } from "./schema";

/** Reports an outage once (not once per retry: the status shows the retries) and logs each connect. */
function watchDevice(ctx: NodeContext<DeviceFields>, device: ModbusDevice): void {
  const where = describeDevice(device.options);
  let wasUp = false;
  let reportedDown = false;
  ctx.listen(device.conn, "state", (state: ConnectionState, detail?: string) => {
    if (state === "connected") {
      wasUp = true;
      reportedDown = false;
      ctx.node.log(`connected to ${where}`);
    } else if (state === "disconnected" && (wasUp || !reportedDown)) {
      wasUp = false;
      reportedDown = true;
      ctx.report(new ConnectionError(`modbus ${where}: ${detail ?? "disconnected"}`), { payload: null, device: where });
    }
  });
  // Once per deploy: the device fell back to one request at a time (modbus-device.ts, noteOverlapLoss).
  ctx.listen(device, "fallback", (reason: string) => {
    ctx.report(new ConfigError(`modbus ${where}: ${reason}`), { payload: null, device: where });
  });
}

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    configNode: true,
    create(ctx) {
      const device = new ModbusDevice(deviceFromConfig(ctx.config));
      const node = ctx.node as OtbModbusDeviceNode;
      // One users map: the connection's. Node-RED routes this node's status and errors to the
      // nodes in `users`; the runner registers users there (none yet: config nodes start first).
      Object.assign(device.conn.users, node.users);
      Object.assign(node, { configError: null, device, users: device.conn.users });
      watchDevice(ctx, device);
      return { close: () => device.close() };
    },
    failed(node: Node, err: Error) {
      Object.assign(node as OtbModbusDeviceNode, { configError: err.message, device: null });
    },
  });
};
