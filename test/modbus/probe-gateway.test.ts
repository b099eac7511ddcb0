/**
 * Probe (reliability.md §9 D4, D6): a Modbus TCP-to-RTU gateway, written here on a raw `net`
 * server (not modbus-serial's ServerTCP), with several units behind one TCP connection. One
 * unit is dead: the gateway forwards the request and nothing comes back (many gateways answer
 * nothing rather than exception 11). The other units must keep delivering good values: one dead
 * slave on an RS-485 line is routine, and must not turn the whole line's tags into comm_lost.
 */
import * as assert from "assert";
import * as net from "net";
import deviceNode = require("../../nodes/otb-modbus-device/otb-modbus-device");
import modbusInNode = require("../../nodes/otb-modbus-in/otb-modbus-in");
import type { Signal } from "../../nodes/shared";
import { waitFor } from "../helpers/peers";
import { helper, tab, withCoreNodes } from "../helpers/red";

const nodes = withCoreNodes([deviceNode, modbusInNode]);

/**
 * Answers FC 3 for the live units with register n = unit * 1000 + n; the dead units never answer;
 * `missFirst` units leave their first N requests unanswered (a frame lost on the RS-485 line).
 */
async function gateway(dead: Set<number>, missFirst = new Map<number, number>()): Promise<{ port: number; requests: Map<number, number>; close(): Promise<void> }> {
  const requests = new Map<number, number>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => undefined);
    let buf = Buffer.alloc(0);
    sock.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 7 && buf.length >= 6 + buf.readUInt16BE(4)) {
        const len = buf.readUInt16BE(4);
        const frame = buf.subarray(0, 6 + len);
        buf = buf.subarray(6 + len);
        const tid = frame.readUInt16BE(0);
        const unit = frame[6]!;
        const fc = frame[7]!;
        requests.set(unit, (requests.get(unit) ?? 0) + 1);
        if (dead.has(unit)) continue; // forwarded onto the line; the slave never answers
        const miss = missFirst.get(unit) ?? 0;
        if (miss > 0) {
          missFirst.set(unit, miss - 1);
          continue;
        }
        if (fc !== 3) {
          sock.write(Buffer.from([tid >> 8, tid & 0xff, 0, 0, 0, 3, unit, fc | 0x80, 1]));
          continue;
        }
        const start = frame.readUInt16BE(8);
        const count = frame.readUInt16BE(10);
        const pdu = Buffer.alloc(2 + count * 2);
        pdu[0] = 3;
        pdu[1] = count * 2;
        for (let i = 0; i < count; i++) pdu.writeUInt16BE((unit * 1000 + start + i) & 0xffff, 2 + i * 2);
        const head = Buffer.alloc(7);
        head.writeUInt16BE(tid, 0);
        head.writeUInt16BE(0, 2);
        head.writeUInt16BE(pdu.length + 1, 4);
        head[6] = unit;
        // An RTU line behind the gateway: a few ms per answer.
        setTimeout(() => sock.write(Buffer.concat([head, pdu])), 5);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("probe: otb-modbus-in behind a TCP-to-RTU gateway with a dead unit", function () {
  this.timeout(60_000);
  let gw: Awaited<ReturnType<typeof gateway>>;
  afterEach(async () => {
    await helper.unload();
    await gw.close();
  });

  /** Unit 2 dead behind the gateway, units 1 and 3 live: otb-modbus-in polls all three every `periodMs`. */
  async function pollThreeUnits(periodMs: number): Promise<Signal[][]> {
    const tags = [
      { tag: "dead.a", area: "holding", address: 0, type: "uint16", unitId: 2 },
      { tag: "live.a", area: "holding", address: 0, type: "uint16", unitId: 1 },
      { tag: "live.b", area: "holding", address: 10, type: "uint16", unitId: 3 },
    ];
    await helper.load(nodes, tab([
      // The device's defaults for timeouts and retries (a 1 s request timeout; poll timeout = request timeout).
      { id: "dev", type: "otb-modbus-device", name: "gateway", transport: "tcp", host: "127.0.0.1", port: String(gw.port), unitId: "1" },
      { id: "in", type: "otb-modbus-in", device: "dev", mapSource: "table", periodMs: String(periodMs), groups: [], tags, wires: [["out"]] },
      { id: "out", type: "helper" },
    ]));
    const batches: Signal[][] = [];
    (helper.getNode("out") as unknown as NodeJS.EventEmitter).on("input", (msg: { payload: Signal[] }) => batches.push(msg.payload));
    return batches;
  }

  it("the live units keep delivering good values every poll while one unit never answers", async () => {
    gw = await gateway(new Set([2]));
    const batches = await pollThreeUnits(1500);
    await waitFor(() => batches.length >= 6, 30_000, "six polls");
    const of = (tag: string): Signal[] => batches.flatMap((b) => b.filter((s) => s.tag === tag));
    // The first poll may race the connection; every later one must have the live units good.
    const later = batches.slice(1);
    const liveBad = later.flatMap((b) => b.filter((s) => s.tag.startsWith("live.") && s.quality !== "good"));
    assert.deepStrictEqual(liveBad.map((s) => `${s.tag}: ${s.reasons?.join(",")}`), [], "a dead unit must not take the live ones down");
    assert.ok(of("live.a").slice(1).every((s) => s.value === 1000));
    assert.ok(of("live.b").slice(1).every((s) => s.value === 3010));
    assert.ok(of("dead.a").every((s) => s.quality === "bad" && s.reasons?.includes("comm_lost")), "the dead unit is comm_lost");
  });

  it("a live unit that missed one answer is not left behind the dead unit: it is good again within two polls", async () => {
    // Unit 1's first request is lost on the line, so unit 1 and the dead unit 2 are both silent.
    // Before, the dead unit went first among silent units in every poll and spent the poll's
    // whole time; unit 1 was never sent again and stayed comm_lost for ever (CI, 5 December).
    gw = await gateway(new Set([2]), new Map([[1, 1]]));
    const batches = await pollThreeUnits(1200);
    await waitFor(() => batches.length >= 8, 40_000, "eight polls");
    const table = batches.map((b, i) => `poll ${i + 1}: ${b.map((s) => `${s.tag}=${s.quality === "good" ? s.value : s.reasons?.join(",")}`).join(" ")}`).join("\n");
    // Poll 1: the dead unit goes first and spends the poll. Poll 2: unit 1 goes first and its
    // answer is lost (a whole request timeout). Poll 3: unit 3, then the silent unit tried least
    // recently (the dead one). From poll 4 on unit 1 answers, and stays ahead of the dead unit.
    const good = (tag: string, from: number): boolean => batches.slice(from - 1).every((b) => b.find((s) => s.tag === tag)!.quality === "good");
    assert.ok(good("live.a", 4), `unit 1 good again from poll 4:\n${table}`);
    assert.ok(good("live.b", 3), `unit 3 good from poll 3:\n${table}`);
    assert.ok(batches.every((b) => b.find((s) => s.tag === "dead.a")!.quality === "bad"), "the dead unit is comm_lost");
  });
});
