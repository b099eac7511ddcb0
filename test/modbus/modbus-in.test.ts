/**
 * otb-modbus-in in Node-RED against real servers: typed decoding of every type and order, the
 * simulator's map file against the simulator's Modbus server, quality on exceptions, overruns,
 * configuration errors reaching Catch nodes, and honest status.
 */
import * as assert from "assert";
import deviceNode = require("../../nodes/otb-modbus-device/otb-modbus-device");
import modbusInNode = require("../../nodes/otb-modbus-in/otb-modbus-in");
import type { Signal } from "../../nodes/shared";
import { validateSignal } from "../../nodes/shared";
import type { DataType, Order } from "../../nodes/otb-modbus-in/register-map";
import { waitFor } from "../helpers/peers";
import { helper, nextMessage, tab, withCoreNodes } from "../helpers/red";
import { wordsFor } from "./encode";
import { startModbusPeer, startRawModbusServer, type ModbusPeer } from "./modbus-peer";

const nodes = withCoreNodes([deviceNode, modbusInNode]);

function flow(port: number, inNode: Record<string, unknown>, deviceOver: Record<string, unknown> = {}): Array<Record<string, unknown>> {
  return tab([
    { id: "dev", type: "otb-modbus-device", name: "plc", transport: "tcp", host: "127.0.0.1", port: String(port), unitId: "1", timeoutMs: "300", pollTimeoutMs: "3000", retries: "0", maxRegisters: "125", maxGap: "10", interRequestDelayMs: "0", ...deviceOver },
    { id: "in", type: "otb-modbus-in", device: "dev", mapSource: "table", periodMs: "100", groups: [], wires: [["out"]], ...inNode },
    { id: "out", type: "helper" },
    { id: "catcher", type: "catch", scope: ["in"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper" },
  ]);
}

/** Every status the node shows from now on, as "fill:text" (the node's own status() still runs). */
function statusTexts(id: string): string[] {
  const statuses: string[] = [];
  const node = helper.getNode(id);
  const orig = node.status.bind(node);
  node.status = ((st: { text?: string; fill?: string }) => {
    statuses.push(`${st.fill}:${st.text}`);
    return orig(st as never);
  }) as never;
  return statuses;
}

/** The next batch whose Signals are all good (the first polls may race the connection). */
async function nextGoodBatch(timeoutMs = 5000): Promise<Record<string, unknown>> {
  const out = helper.getNode("out");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const msg = await nextMessage(out, Math.max(100, deadline - Date.now()));
    if ((msg.payload as Signal[]).every((s) => s.quality === "good")) return msg;
    if (Date.now() > deadline) throw new Error("no all-good batch");
  }
}

describe("otb-modbus-in (Node-RED, real ServerTCP)", () => {
  let peer: ModbusPeer;
  beforeEach(async () => {
    peer = await startModbusPeer();
  });
  afterEach(async () => {
    await helper.unload();
    await peer.close();
  });

  it("decodes every type and byte/word order to the value the server holds, in one request", async () => {
    const values: Array<[DataType, number]> = [["int16", -1234], ["uint16", 65000], ["int32", -70000], ["uint32", 3000000000], ["float32", 12.5], ["float64", 1234.5678]];
    const tags: Array<Record<string, unknown>> = [];
    let address = 0;
    for (const [type, value] of values) {
      for (const byteOrder of ["big", "little"] as Order[]) {
        for (const wordOrder of ["big", "little"] as Order[]) {
          const words = wordsFor(type, value, byteOrder, wordOrder);
          peer.holding.set(words, address);
          tags.push({ tag: `${type}.${byteOrder}.${wordOrder}`, area: "holding", address, type, byteOrder, wordOrder, unit: "u" });
          address += words.length;
        }
      }
    }
    Buffer.from("PUMP-7\0\0", "latin1").forEach((b, i) => (peer.holding[address + (i >> 1)] |= i % 2 ? b : b << 8));
    tags.push({ tag: "product", area: "holding", address, type: "string", length: 4 });
    peer.holding[address + 4] = 0b100;
    tags.push({ tag: "flag", area: "holding", address: address + 4, type: "bool", bit: 2 });
    tags.push({ tag: "scaled", area: "holding", address: address + 5, type: "int16", scale: 0.1, offset: -10 });
    peer.holding[address + 5] = 250;
    peer.coils[3] = 1;
    peer.discrete[7] = 1;
    tags.push({ tag: "coil3", area: "coil", address: 3, type: "bool" }, { tag: "di7", area: "discrete", address: 7, type: "bool" }, { tag: "di6", area: "discrete", address: 6, type: "bool" });
    peer.input[0] = 17;
    tags.push({ tag: "ir0", area: "input", address: 0, type: "uint16" });

    await helper.load(nodes, flow(peer.port, { tags }));
    const msg = await nextGoodBatch();
    const batch = msg.payload as Signal[];
    assert.strictEqual(batch.length, tags.length);
    for (const s of batch) assert.ok(validateSignal(s), `${s.tag} matches the Signal schema`);
    const byTag = new Map(batch.map((s) => [s.tag, s]));
    for (const [type, value] of values) for (const b of ["big", "little"]) for (const w of ["big", "little"]) assert.strictEqual(byTag.get(`${type}.${b}.${w}`)!.value, value, `${type} ${b}/${w}`);
    assert.strictEqual(byTag.get("product")!.value, "PUMP-7");
    assert.deepStrictEqual([byTag.get("flag")!.value, byTag.get("scaled")!.value, byTag.get("coil3")!.value, byTag.get("di7")!.value, byTag.get("di6")!.value, byTag.get("ir0")!.value], [true, 15, true, true, false, 17]);
    assert.deepStrictEqual(byTag.get("int16.big.big")!.source, { protocol: "modbus", address: "holding:0", device: "plc" });
    assert.strictEqual(byTag.get("int16.big.big")!.unit, "u");
    // 24 numeric tags + string + bool + scaled sit in one holding range: one request; coil, discrete, input: one each.
    assert.strictEqual((msg.stats as { requestsPerPoll: number }).requestsPerPoll, 4);
    assert.strictEqual(msg.topic, "default");
  });

  it("rows without an order use the device's default order; a row's own order wins", async () => {
    peer.holding.set(wordsFor("float32", 7.5, "big", "little"), 0);
    peer.holding.set(wordsFor("float32", 8.5, "big", "big"), 2);
    await helper.load(nodes, flow(peer.port, { tags: [{ tag: "dflt", address: 0, type: "float32" }, { tag: "own", address: 2, type: "float32", wordOrder: "big" }] }, { wordOrder: "little" }));
    const batch = (await nextGoodBatch()).payload as Signal[];
    assert.deepStrictEqual(batch.map((s) => [s.tag, s.value]), [["dflt", 7.5], ["own", 8.5]]);
  });

  it("emits exception and good tags in one batch, and the status says how many are bad", async () => {
    peer.holding[0] = 5;
    peer.exceptions.set("holding:50", 4);
    await helper.load(nodes, flow(peer.port, { tags: [{ tag: "ok", address: 0 }, { tag: "failed", address: 50 }] }));
    const statuses = statusTexts("in");
    let batch: Signal[] = [];
    await waitFor(async () => {
      batch = (await nextMessage(helper.getNode("out"))).payload as Signal[];
      return batch[0].quality === "good";
    }, 5000, "a poll after connecting");
    assert.deepStrictEqual(batch.map((s) => [s.tag, s.quality, s.value, s.reasons]), [["ok", "good", 5, undefined], ["failed", "bad", null, ["modbus:exception_4"]]]);
    await waitFor(() => statuses.some((s) => s.startsWith("yellow:1/2 bad (modbus:exception_4)")), 2000, "status");
  });

  it("a poll that overruns its period: the next starts when it ends (late), further ticks are skipped and counted, nothing queues", async () => {
    // 150 ms per poll, a tick every 40 ms: about three ticks fall in each poll.
    peer.delayFor = () => 150;
    await helper.load(nodes, flow(peer.port, { periodMs: "40", tags: [{ tag: "slow", address: 0 }] }, { timeoutMs: "1000" }));
    const statuses = statusTexts("in");
    type Stats = { skipped: number; late: number; polls: number; device: { queue: number } };
    const stats: Stats[] = [];
    for (let i = 0; i < 4; i++) stats.push((await nextMessage(helper.getNode("out"), 3000)).stats as Stats);
    const last = stats[stats.length - 1];
    // Each batch is one poll; of the three after the first, the ones a tick came due for started late (not a tick later).
    assert.deepStrictEqual(stats.map((s) => s.polls), [1, 2, 3, 4], "one poll per batch, none lost or doubled");
    assert.ok(last.late >= 2, `late polls: ${last.late} of 3`);
    assert.ok(last.skipped >= 2, `skipped ${last.skipped}`);
    assert.ok(stats.every((s) => s.device.queue <= 1), "nothing piles up in the device queue");
    // The data is good, but the period asked is not met: the status says so, never plain green.
    assert.ok(statuses.some((t) => /^yellow:1 tags, poll overrun: .* late \d+x$/.test(t)), `statuses: ${statuses.join(" | ")}`);
  });

  it("a device outage: comm_lost batches, one error for the reader's Catch node, data again after", async function () {
    this.timeout(15_000);
    peer.holding[0] = 11;
    await helper.load(nodes, flow(peer.port, { tags: [{ tag: "a", address: 0 }] }, { timeoutMs: "100" }));
    await nextGoodBatch();
    const caught: Array<Record<string, unknown>> = [];
    helper.getNode("caught").on("input", ((m: Record<string, unknown>) => caught.push(m)) as never);
    const batches: Signal[][] = [];
    helper.getNode("out").on("input", ((m: { payload: Signal[] }) => batches.push(m.payload)) as never);
    await peer.stop();
    await waitFor(() => batches.some((b) => b[0].reasons?.[0] === "comm_lost"), 3000, "comm_lost batch");
    await waitFor(() => caught.length > 0, 3000, "Catch hears of the outage");
    assert.match(String((caught[0].error as { message: string }).message), /modbus 127\.0\.0\.1:\d+#1/);
    await peer.start();
    await waitFor(() => batches.length > 0 && batches[batches.length - 1][0].quality === "good", 8000, "good again");
    assert.strictEqual(caught.length, 1, "one error per outage, not one per retry");
  });

  it("a device that drops overlapping requests: Requests at once falls back to 1, one error for Catch, data good after", async function () {
    this.timeout(20_000);
    const raw = await startRawModbusServer();
    try {
      for (let a = 0; a < 400; a++) raw.holding[a] = a + 1;
      // One transaction at a time, like many TCP-to-RTU gateways: an overlapping request is never answered.
      raw.delayFor = () => (raw.outstanding! > 0 ? -1 : 2);
      const tags = [0, 100, 200, 300].map((address) => ({ tag: `t${address}`, address }));
      await helper.load(nodes, flow(raw.port, { periodMs: "200", tags }, { maxInFlight: "4", timeoutMs: "150", timeoutsBeforeReconnect: "10" }));
      const caught: Array<Record<string, unknown>> = [];
      helper.getNode("caught").on("input", ((m: Record<string, unknown>) => caught.push(m)) as never);
      await waitFor(() => caught.length > 0, 10_000, "Catch hears of the fallback");
      assert.match(String((caught[0].error as { message: string }).message), /modbus 127\.0\.0\.1:\d+#1: requests sent while another was outstanding went unanswered \d+ times .*Requests at once reduced from 4 to 1/);
      const good = await nextGoodBatch(8000);
      assert.deepStrictEqual((good.payload as Signal[]).map((s) => s.value), [1, 101, 201, 301]);
      assert.strictEqual((good.stats as { device: { inFlightLimit: number } }).device.inFlightLimit, 1);
      await nextGoodBatch(3000);
      assert.strictEqual(caught.length, 1, "said once, not once per poll");
    } finally {
      await helper.unload();
      await raw.close();
    }
  });

  it("polls on an input message, only the group it names", async () => {
    peer.holding[0] = 1;
    peer.holding[10] = 2;
    await helper.load(nodes, flow(peer.port, { periodMs: "0", groups: [{ name: "slow", periodMs: 0 }], tags: [{ tag: "a", address: 0, group: "fast" }, { tag: "b", address: 10, group: "slow" }] }));
    await waitFor(() => (helper.getNode("dev") as unknown as { device: { connected: boolean } }).device.connected, 3000, "connected");
    const got = nextMessage(helper.getNode("out"));
    helper.getNode("in").receive({ group: "slow", _msgid: "m1" });
    const msg = await got;
    assert.deepStrictEqual([msg.topic, (msg.payload as Signal[]).map((s) => s.value)], ["slow", [2]]);
  });

  it("refuses an unusable register map with an error a Catch node receives", async () => {
    await helper.load(nodes, flow(peer.port, { tags: [{ tag: "x", address: 1, type: "float128" }] }));
    // The node reports after the flow has started, so that this Catch node exists by then.
    const caughtP = nextMessage(helper.getNode("caught"));
    const caught = await caughtP;
    assert.match(String((caught.error as { message: string }).message), /type "float128"/);
  });

  it("reads the simulator's register map file as is from the simulator's Modbus server", async function () {
    this.timeout(30_000);
    const { startSimulator } = await import("../../cli/sim");
    const sim = await startSimulator({ seed: 3, speed: 1, protocols: { opcua: false, mqtt: false, modbus: true }, modbusPort: 0 } as never);
    try {
      await helper.load(nodes, flow((sim as unknown as { modbusPort: number }).modbusPort, { mapSource: "file", mapFile: "flows/catalog/simulator-modbus-map.json", tags: [], groups: [{ name: "fast", periodMs: 100 }, { name: "slow", periodMs: 100 }] }));
      const seen = new Map<string, Signal>();
      const notGood = new Map<string, string>();
      helper.getNode("out").on("input", ((msg: { payload: Signal[] }) => {
        for (const s of msg.payload) {
          if (s.quality === "good") seen.set(s.tag, s);
          else notGood.set(s.tag, String(s.reasons));
        }
      }) as never);
      // 18 process tags and the two units' clocks (role "clock")
      await waitFor(() => seen.size === 20, 15_000, "all 20 simulator tags good").catch((err: Error) => {
        throw new Error(`${err.message}: good ${[...seen.keys()].join(",")}; not good ${JSON.stringify([...notGood])}`);
      });
      assert.strictEqual(typeof seen.get("legacy1.running")!.value, "boolean");
      assert.strictEqual(typeof seen.get("legacy1.product")!.value, "string");
      const hz = seen.get("meter1.frequency")!.value as number;
      assert.ok(hz > 45 && hz < 65, `frequency ${hz} Hz`);
      assert.strictEqual(seen.get("meter1.frequency")!.unit, "Hz");
      assert.strictEqual(seen.get("legacy1.part_count")!.source.address, "unit2/holding:1");
    } finally {
      await helper.unload();
      await sim.stop();
    }
  });
});
