/**
 * otb-modbus-in's device clock (a register-map row with "role": "clock"): in Node-RED against a
 * real Modbus TCP server, every poll group's Signals carry the device's time, not the poll's
 * wall-clock time; a clock that cannot be read in a poll keeps the unit on the device's time
 * line (last reading + elapsed) and shows as a bad tag; a unit whose clock was never read is held
 * until its first reading (then stamped back), or, past the bound, sent uncertain with the host's
 * time and reported once; a clock row that cannot be a time is refused when the map is read.
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

  it("a unit whose clock times out on the first reads is held and sent on the device's time line, exactly once", async () => {
    // The clock (the only input register) never answers its first 3 reads: poll timeouts, as under load.
    let clockAnsweredAt = 0;
    peer.delayFor = (area) => {
      if (area !== "input") return 0;
      if (peer.requests.input <= 3) return -1;
      clockAnsweredAt ||= Date.now();
      return 0;
    };
    const loadedAt = Date.now();
    await helper.load(nodes, flow(peer.port));
    const msgs: Array<{ topic: string; payload: Signal[]; stats: { good: number; bad: number } }> = [];
    helper.getNode("out").on("input", ((m: (typeof msgs)[number]) => msgs.push(m)) as never);
    const sent = (group: string): number => msgs.filter((m) => m.topic === group).reduce((n, m) => n + m.payload.length, 0);
    const produced = (group: string): number => {
      const last = msgs.filter((m) => m.topic === group).pop();
      return last ? last.stats.good + last.stats.bad : -1;
    };
    await waitFor(() => clockAnsweredAt > 0 && sent("fast") > 0 && sent("slow") > 0, 10000, "batches after the clock's first reading");
    // Every Signal produced is sent exactly once: held ones included, none dropped or doubled.
    await waitFor(() => sent("fast") === produced("fast") && sent("slow") === produced("slow"), 10000, `sent = produced (fast ${sent("fast")}/${produced("fast")}, slow ${sent("slow")}/${produced("slow")})`);
    const all = msgs.flatMap((m) => m.payload);
    const voltages = all.filter((s) => s.tag === "m.voltage");
    assert.ok(voltages.length >= 3, `the voltage of every fast poll, the held ones too (${voltages.length})`);
    for (const s of all) {
      // Held Signals are stamped back from the first reading, never with the host's time (years away).
      assert.ok(s.ts <= DEVICE_S * 1000 && s.ts >= DEVICE_S * 1000 - (Date.now() - loadedAt), `${s.tag} stamped ${new Date(s.ts).toISOString()}`);
      assert.notStrictEqual(s.quality, "uncertain", `${s.tag}: ${String(s.reasons)}`);
    }
    const held = voltages.filter((s) => s.ts < DEVICE_S * 1000);
    assert.ok(held.length >= 1, "some voltages were held and stamped back");
    for (let k = 1; k < held.length; k++) assert.ok(held[k]!.ts >= held[k - 1]!.ts, "held polls keep their order");
    assert.deepStrictEqual(all.find((s) => s.tag === "m.clock" && s.quality === "bad")?.reasons, ["comm_lost"]);
  });

  it("a clock that stays unreadable: after the bound its Signals go out uncertain with the host's time, reported once", async () => {
    peer.exceptions.set("input:90", 4);
    const flowJson = flow(peer.port);
    flowJson.push({ id: "catcher", z: flowJson[0]!.id, type: "catch", scope: ["in"], uncaught: false, wires: [["caught"]] }, { id: "caught", z: flowJson[0]!.id, type: "helper" });
    await helper.load(nodes, flowJson);
    const inNode = helper.getNode("in");
    const statuses: string[] = [];
    const orig = inNode.status.bind(inNode);
    inNode.status = ((st: { text?: string; fill?: string }) => {
      statuses.push(`${st.fill}:${st.text}`);
      return orig(st as never);
    }) as never;
    const caught: Array<{ error: { message: string } }> = [];
    helper.getNode("caught").on("input", ((m: (typeof caught)[number]) => caught.push(m)) as never);
    const batches: Signal[][] = [];
    helper.getNode("out").on("input", ((m: { payload: Signal[] }) => batches.push(m.payload)) as never);
    const before = Date.now();
    await waitFor(() => statuses.some((t) => t.includes("waiting for device clock")), 5000, "status: waiting for the clock");
    assert.strictEqual(batches.length, 0, "nothing sent on the host's time while waiting");
    await waitFor(() => batches.length > 0, 30000, "the held Signals once the wait gives up");
    await waitFor(() => caught.length > 0 && batches.length >= 4, 10000, "Catch hears of it and polls go on");
    const all = batches.flat();
    const voltage = all.filter((s) => s.tag === "m.voltage");
    assert.ok(voltage.length >= 2);
    for (const s of voltage) {
      assert.strictEqual(s.quality, "uncertain");
      assert.deepStrictEqual(s.reasons, ["clock_unread"]);
      assert.strictEqual(s.value, 230);
      assert.ok(s.ts >= before - 1000 && s.ts <= Date.now(), "the poll's host time");
    }
    assert.deepStrictEqual(all.find((s) => s.tag === "m.clock")!.reasons, ["modbus:exception_4", "clock_unread"]);
    assert.match(caught[0]!.error.message, /device clock not read in \d+ ms/);
    await waitFor(() => statuses.some((t) => t.includes("clock_unread")), 5000, "status says clock_unread");
    assert.strictEqual(caught.length, 1, "reported once, not once per poll");
    // A good reading ends it: Signals are on the device's time line again, and good.
    peer.exceptions.delete("input:90");
    const n = batches.length;
    await waitFor(() => batches.slice(n).some((b) => b.some((s) => s.tag === "m.voltage" && s.ts === DEVICE_S * 1000 && s.quality === "good")), 5000, "device time again");
    assert.strictEqual(caught.length, 1);
  });

  it("refuses a clock row that cannot be a time, or an unknown role", () => {
    assert.throws(() => parseRegisterMap([{ tag: "c", address: 1, type: "string", length: 2, role: "clock" }]), /row 1 \(c\): a clock must be a number/);
    assert.throws(() => parseRegisterMap([{ tag: "c", area: "coil", address: 1, role: "clock" }]), /a clock must be a number/);
    assert.throws(() => parseRegisterMap([{ tag: "c", address: 1, role: "timer" }]), /role "timer" must be clock/);
    assert.strictEqual(parseRegisterMap([{ tag: "c", address: 1, type: "uint32", role: "Clock" }]).tags[0].role, "clock");
  });
});
