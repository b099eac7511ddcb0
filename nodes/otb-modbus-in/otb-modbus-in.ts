/**
 * otb-modbus-in: polls a typed register map through an otb-modbus-device and emits one Signal[]
 * batch per poll group per period (msg.topic = the group). The logic lives in register-map.ts,
 * coalesce.ts, decode.ts, poller.ts and modbus-in-controller.ts; this file is the glue.
 */
import { defineNode } from "../shared/define-node";
import type { NodeAPI } from "../shared/red";
import { describeDevice, type OtbModbusDeviceNode } from "../otb-modbus-device/device-config";
import { withClockInEveryGroup } from "./device-clock";
import { resolveMap } from "./map-source";
import { ModbusInController } from "./modbus-in-controller";
import { schema } from "./schema";

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    status: { idleAfterMs: 10_000 },
    create(ctx) {
      // The runner checked that the device is deployed and usable (else "config: device: ...").
      const config = RED.nodes.getNode(ctx.config.device) as unknown as OtbModbusDeviceNode;
      const device = config.device!;
      let map;
      try {
        map = resolveMap(ctx.config, ctx.userFile, { byteOrder: device.options.byteOrder, wordOrder: device.options.wordOrder });
      } catch (err) {
        // Not a reader of the device after all: its outages are not this node's to hear about.
        delete config.users[ctx.node.id];
        throw err;
      }
      return new ModbusInController(ctx, device, { ...map, tags: withClockInEveryGroup(map.tags) }, config.name || describeDevice(device.options));
    },
  });
};
