/** A ModbusDevice on a test peer, and a wait for its first connection: shared by the device-level tests. */
import { parseDeviceConfig } from "../../nodes/otb-modbus-device/device-config";
import { ModbusDevice } from "../../nodes/otb-modbus-device/modbus-device";
import { waitFor } from "../helpers/peers";
import type { ModbusPeer } from "./modbus-peer";

/** Request timeout 200 ms, no retries, reconnects after 100-400 ms, unless `over` says otherwise. */
export function testDevice(peer: ModbusPeer, over: Record<string, unknown> = {}): ModbusDevice {
  // A generous poll timeout unless a test is about it: a loaded machine must not turn queueing
  // delays into comm_lost in tests about something else.
  const o = parseDeviceConfig({ transport: "tcp", host: "127.0.0.1", port: peer.port, unitId: 1, timeoutMs: 200, retries: 0, pollTimeoutMs: 5000, ...over } as never);
  o.reconnectInitialMs = 100;
  o.reconnectMaxMs = 400;
  return new ModbusDevice(o);
}

/** Registers a user (which opens the connection) and waits until the device is connected. */
export async function connected(d: ModbusDevice): Promise<void> {
  d.conn.register({ id: `user${Math.random()}`, status: () => undefined, warn: () => undefined } as never, { onState: () => undefined });
  await waitFor(() => d.connected, 5000, "device connected");
}
