/**
 * More than one request on the wire (otb-modbus-device `maxInFlight`, Modbus TCP only) against a
 * spec-level server that answers out of order: the MBAP transaction id must bring every reply to
 * its own request, the limit must hold on the wire, and a device that stops answering with several
 * requests out must still end every read and reopen its link, leaving one connection open.
 */
import * as assert from "assert";
import { parseDeviceConfig } from "../../nodes/otb-modbus-device/device-config";
import { ModbusDevice } from "../../nodes/otb-modbus-device/modbus-device";
import { PROTOCOL_LIMITS } from "../../nodes/otb-modbus-in/coalesce";
import { GroupPoller } from "../../nodes/otb-modbus-in/poller";
import { parseRegisterMap } from "../../nodes/otb-modbus-in/register-map";
import { ConfigError } from "../../nodes/shared/errors";
import { waitFor } from "../helpers/peers";
import { startRawModbusServer, type ModbusPeer } from "./modbus-peer";
import { connected, testDevice } from "./test-device";

/** Every register holds a code of its own address: a reply given to the wrong request decodes into wrong values. */
const code = (address: number): number => (address * 7919 + 13) & 0xffff;
/** Eight blocks of four registers, 100 apart, so that each is its own request. */
const ROWS = Array.from({ length: 32 }, (_, i) => ({ tag: `t${i}`, address: Math.floor(i / 4) * 100 + (i % 4) }));

const device = (peer: ModbusPeer, over: Record<string, unknown> = {}): ModbusDevice => testDevice(peer, { timeoutMs: 1000, ...over });

describe("modbus: several requests on the wire (maxInFlight, real TCP server)", function () {
  let raw: ModbusPeer;
  let dev: ModbusDevice | null = null;
  beforeEach(async () => {
    raw = await startRawModbusServer();
    for (let a = 0; a < 800; a++) raw.holding[a] = code(a);
    // Later blocks answer sooner: replies overtake one another whenever more than one is out.
    raw.delayFor = (_area, start) => 2 + (7 - Math.floor(start / 100)) * 3;
  });
  afterEach(async () => {
    await dev?.close();
    dev = null;
    await raw.close();
  });

  async function pollMany(polls: number): Promise<{ good: number; wrong: number; duplicates: number }> {
    const poller = new GroupPoller("default", parseRegisterMap(ROWS).tags, PROTOCOL_LIMITS, dev!, "dev");
    assert.strictEqual(poller.blocks.length, 8);
    let good = 0;
    let wrong = 0;
    let duplicates = 0;
    for (let i = 0; i < polls; i++) {
      const batch = (await poller.poll())!;
      const seen = new Set<string>();
      for (const s of batch) {
        if (seen.has(s.tag)) duplicates++;
        seen.add(s.tag);
        if (s.quality !== "good") continue;
        good++;
        if (s.value !== code(Number(s.source.address.split(":")[1]))) wrong++;
      }
      assert.strictEqual(seen.size, 32, "every tag once per poll");
    }
    return { good, wrong, duplicates };
  }

  it("maxInFlight 4: at most four requests out, replies out of order, every value to its own tag once", async function () {
    this.timeout(30_000);
    dev = device(raw, { maxInFlight: 4 });
    assert.strictEqual(dev.inFlightLimit, 4);
    await connected(dev);
    const r = await pollMany(40);
    assert.deepStrictEqual(r, { good: 40 * 32, wrong: 0, duplicates: 0 });
    assert.strictEqual(raw.maxOutstanding, 4, "four requests were on the wire together, never more");
    assert.ok(raw.overtakes! > 40, `replies overtook earlier requests ${raw.overtakes} times`);
    const c = dev.counters;
    assert.deepStrictEqual([c.requests, c.responses, c.timeouts, c.lateReplies, c.badReplies], [320, 320, 0, 0, 0]);
  });

  it("maxInFlight 1 (the default): one request on the wire at a time, as before", async function () {
    this.timeout(30_000);
    dev = device(raw);
    assert.strictEqual(dev.inFlightLimit, 1);
    await connected(dev);
    const r = await pollMany(10);
    assert.deepStrictEqual(r, { good: 10 * 32, wrong: 0, duplicates: 0 });
    assert.strictEqual(raw.maxOutstanding, 1);
    assert.strictEqual(raw.overtakes, 0);
  });

  it("a device that stops answering with four out: every read ends as comm_lost, the link is reopened, data again on one connection", async function () {
    this.timeout(30_000);
    dev = device(raw, { maxInFlight: 4, timeoutMs: 60, timeoutsBeforeReconnect: 3, pollTimeoutMs: 400 });
    await connected(dev);
    const states: string[] = [];
    dev.conn.on("state", (s: string) => states.push(s));
    raw.delayFor = () => -1;
    const poller = new GroupPoller("default", parseRegisterMap(ROWS).tags, PROTOCOL_LIMITS, dev, "dev");
    const during = (await poller.poll())!;
    assert.strictEqual(during.length, 32);
    assert.ok(during.every((s) => s.quality === "bad" && s.reasons?.[0] === "comm_lost"), "every tag comm_lost");
    assert.ok(states.includes("disconnected"), `the link was reopened: ${states.join(" ")}`);
    raw.delayFor = () => 0;
    await waitFor(async () => (await poller.poll())!.every((s) => s.quality === "good"), 10_000, "good again");
    await waitFor(() => raw.open!() === 1, 5000, "one connection left open");
    const c = dev.counters;
    assert.ok(c.timeouts >= 3 && c.reconnects >= 1, `timeouts ${c.timeouts}, reconnects ${c.reconnects}`);
  });

  it("a gateway that drops a request sent while it serves another: back to one at a time after two losses, said once", async function () {
    this.timeout(30_000);
    // Like a TCP-to-RTU gateway with room for one transaction: a request that arrives while
    // another is being served is never answered.
    raw.delayFor = () => (raw.outstanding! > 0 ? -1 : 3);
    dev = device(raw, { maxInFlight: 4, timeoutMs: 100, timeoutsBeforeReconnect: 10 });
    const fallbacks: string[] = [];
    dev.on("fallback", (reason: string) => fallbacks.push(reason));
    await connected(dev);
    const poller = new GroupPoller("default", parseRegisterMap(ROWS).tags, PROTOCOL_LIMITS, dev, "dev");
    const first = (await poller.poll())!;
    assert.ok(first.some((s) => s.quality === "bad"), "the overlapping requests of the first poll were lost");
    assert.strictEqual(dev.inFlightLimit, 1, `fell back after ${dev.counters.overlapLosses} losses`);
    assert.strictEqual(fallbacks.length, 1);
    assert.match(fallbacks[0], /went unanswered \d+ times while the device answered others: Requests at once reduced from 4 to 1/);
    for (let i = 0; i < 5; i++) {
      const batch = (await poller.poll())!;
      assert.ok(batch.every((s) => s.quality === "good" && s.value === code(Number(s.source.address.split(":")[1]))), `poll ${i + 2} after the fallback`);
    }
    assert.strictEqual(fallbacks.length, 1, "said once");
  });

  it("more than one request at once is refused for RTU and with a request spacing, with the reason", () => {
    assert.strictEqual(parseDeviceConfig({ transport: "tcp", host: "h", unitId: 1, maxInFlight: 8 } as never).maxInFlight, 8);
    assert.throws(() => parseDeviceConfig({ transport: "rtu-tcp", host: "h", unitId: 1, maxInFlight: 4 } as never), (e: Error) => e instanceof ConfigError && /maxInFlight.*only Modbus TCP/.test(e.message));
    assert.throws(() => parseDeviceConfig({ transport: "rtu", serialPath: "/dev/ttyUSB0", unitId: 1, maxInFlight: 2 } as never), /only Modbus TCP/);
    assert.throws(() => parseDeviceConfig({ transport: "tcp", host: "h", unitId: 1, maxInFlight: 2, interRequestDelayMs: 20 } as never), /request spacing/);
    assert.throws(() => parseDeviceConfig({ transport: "tcp", host: "h", unitId: 1, maxInFlight: 17 } as never), /maxInFlight/);
  });
});
