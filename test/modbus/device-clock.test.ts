/**
 * otb-modbus-in's device clock (a register-map row with "role": "clock"): in Node-RED against a
 * real Modbus TCP server, every poll group's Signals carry the device's time, not the poll's
 * wall-clock time; a clock that cannot be read in a poll keeps the unit on the device's time
 * line (last reading + elapsed), or the poll's time when it was never read, and shows as a bad tag; a
 * clock row that cannot be a time is refused when the map is read.
 */
import * as assert from "assert";
import deviceNode = require("../../nodes/otb-modbus-device/otb-modbus-device");
import modbusInNode = require("../../nodes/otb-modbus-in/otb-modbus-in");
import type { Signal } from "../../nodes/shared";
import { parseRegisterMap } from "../../nodes/otb-modbus-in/register-map";
import { waitFor } from "../helpers/peers";
import { helper, tab, withCoreNodes } from "../helpers/red";
import { startModbusPeer, type ModbusPeer } from "./modbus-peer";

const nodes = withCoreNodes([deviceNode, modbusInNode]);
/** The device's clock: 2020-06-01 08:00:00 UTC, far from the test's wall clock. */
const DEVICE_S = Date.UTC(2020, 5, 1, 8, 0, 0) / 1000;

const MAP = [
  { tag: "m.clock", area: "input", address: 90, type: "uint32", scale: 1000, unit: "ms", role: "clock", group: "fast" },
  { tag: "m.voltage", area: "holding", address: 0, type: "uint16", group: "fast" },
  { tag: "m.energy", area: "holding", address: 1, type: "uint16", group: "slow" },
];

function flow(port: number): Array<Record<string, unknown>> {
  return tab([
    { id: "dev", type: "otb-modbus-device", name: "meter", transport: "tcp", host: "127.0.0.1", port: String(port), unitId: "1", timeoutMs: "300", retries: "0", maxRegisters: "125", maxGap: "10", interRequestDelayMs: "0" },
    { id: "in", type: "otb-modbus-in", device: "dev", mapSource: "table", tags: MAP, periodMs: "100", groups: [{ name: "fast", periodMs: 100 }, { name: "slow", periodMs: 150 }], wires: [["out"]] },
    { id: "out", type: "helper" },
  ]);
}

describe("otb-modbus-in: device clock (role clock)", () => {
  let peer: ModbusPeer;
  beforeEach(async () => {
    peer = await startModbusPeer();
    peer.input[90] = DEVICE_S >>> 16;
    peer.input[91] = DEVICE_S & 0xffff;
    peer.holding[0] = 230;
    peer.holding[1] = 7;
  });
  afterEach(async () => {
    await helper.unload();
    await peer.close();
  });

  function collect(): Map<string, Signal[]> {
    const byGroup = new Map<string, Signal[]>();
    helper.getNode("out").on("input", ((msg: { topic: string; payload: Signal[] }) => {
      if (msg.payload.every((s) => s.quality === "good") || byGroup.has(msg.topic)) byGroup.set(msg.topic, msg.payload);
    }) as never);
    return byGroup;
  }

  it("stamps every group's Signals with the device's time", async () => {
    await helper.load(nodes, flow(peer.port));
    const byGroup = collect();
    await waitFor(() => byGroup.has("fast") && byGroup.has("slow"), 5000, "a good batch from both groups");
    for (const [group, batch] of byGroup) {
      assert.ok(batch.some((s) => s.tag === "m.clock"), `${group} reads the clock too`);
      for (const s of batch) assert.strictEqual(s.ts, DEVICE_S * 1000, `${group} ${s.tag} stamped ${new Date(s.ts).toISOString()}`);
    }
    assert.deepStrictEqual(byGroup.get("slow")!.map((s) => [s.tag, s.value]), [["m.energy", 7], ["m.clock", DEVICE_S * 1000]]);
  });

  it("a clock read that fails after good ones keeps the unit on the device's time line (last reading + elapsed)", async () => {
    await helper.load(nodes, flow(peer.port));
    const byGroup = collect();
    await waitFor(() => byGroup.has("fast"), 5000, "a good batch");
    const readAt = Date.now();
    peer.exceptions.set("input:90", 4);
    let batch: Signal[] = [];
    helper.getNode("out").on("input", ((msg: { topic: string; payload: Signal[] }) => {
      if (msg.topic === "fast" && msg.payload.some((s) => s.tag === "m.clock" && s.quality === "bad")) batch = msg.payload;
    }) as never);
    await waitFor(() => batch.length > 0, 5000, "a batch whose clock read failed");
    const voltage = batch.find((s) => s.tag === "m.voltage")!;
    const drift = voltage.ts - DEVICE_S * 1000;
    // The device's time moved on by about the wall time since the last good read, not to the host's time (years away).
    assert.ok(drift >= 0 && drift <= Date.now() - readAt + 1000, `stamped ${new Date(voltage.ts).toISOString()}, ${drift} ms after the last device reading`);
    assert.deepStrictEqual(batch.find((s) => s.tag === "m.clock")!.reasons, ["modbus:exception_4"]);
  });

  it("a clock that cannot be read leaves the poll's own time, and the clock shows as a bad tag", async () => {
    peer.exceptions.set("input:90", 4);
    await helper.load(nodes, flow(peer.port));
    let batch: Signal[] = [];
    helper.getNode("out").on("input", ((msg: { topic: string; payload: Signal[] }) => {
      if (msg.topic === "fast" && msg.payload.some((s) => s.tag === "m.voltage" && s.quality === "good")) batch = msg.payload;
    }) as never);
    const before = Date.now();
    await waitFor(() => batch.length > 0, 5000, "a batch with the voltage");
    const voltage = batch.find((s) => s.tag === "m.voltage")!;
    assert.ok(voltage.ts >= before - 1000 && voltage.ts <= Date.now(), "the poll's wall-clock time");
    assert.deepStrictEqual(batch.find((s) => s.tag === "m.clock")!.reasons, ["modbus:exception_4"]);
  });

  it("refuses a clock row that cannot be a time, or an unknown role", () => {
    assert.throws(() => parseRegisterMap([{ tag: "c", address: 1, type: "string", length: 2, role: "clock" }]), /row 1 \(c\): a clock must be a number/);
    assert.throws(() => parseRegisterMap([{ tag: "c", area: "coil", address: 1, role: "clock" }]), /a clock must be a number/);
    assert.throws(() => parseRegisterMap([{ tag: "c", address: 1, role: "timer" }]), /role "timer" must be clock/);
    assert.strictEqual(parseRegisterMap([{ tag: "c", address: 1, type: "uint32", role: "Clock" }]).tags[0].role, "clock");
  });
});
