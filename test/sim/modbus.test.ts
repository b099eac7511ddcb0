/**
 * The simulator's Modbus TCP server read with an independent modbus-serial client: every
 * register decodes (with a decoder written here, not the simulator's) to the line's value, and
 * exception, timeout and offline faults appear on the labelled unit, inside the label window.
 */
import * as assert from "assert";
import ModbusRTU from "modbus-serial";
import { MODBUS_MAP, startSimulator, type Label, type RegisterDef, type Simulator } from "../../cli/sim";
import { delay } from "../helpers/peers";

/** Independent decoding from the raw response bytes. */
function decode(def: RegisterDef, bytes: Buffer): number | string | boolean {
  let b = Buffer.from(bytes);
  if (def.byteOrder === "LE") for (let i = 0; i < b.length; i += 2) [b[i], b[i + 1]] = [b[i + 1], b[i]];
  if (def.wordOrder === "LE" && def.type !== "string") {
    const words: Buffer[] = [];
    for (let i = 0; i < b.length; i += 2) words.unshift(b.subarray(i, i + 2));
    b = Buffer.concat(words);
  }
  const k = def.scale ?? 1;
  const o = def.offset ?? 0;
  switch (def.type) {
    case "int16": return b.readInt16BE(0) * k + o;
    case "uint16": return b.readUInt16BE(0) * k + o;
    case "int32": return b.readInt32BE(0) * k + o;
    case "uint32": return b.readUInt32BE(0) * k + o;
    case "float32": return b.readFloatBE(0) * k + o;
    case "float64": return b.readDoubleBE(0) * k + o;
    case "string": return b.toString("latin1").replace(/\0+$/, "");
    default: return b.readUInt16BE(0) !== 0;
  }
}

function count(def: RegisterDef): number {
  return { bool: 1, int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, float64: 4, string: def.length ?? 1 }[def.type];
}

async function client(port: number, unitId: number, timeoutMs: number): Promise<ModbusRTU> {
  const c = new ModbusRTU();
  await c.connectTCP("127.0.0.1", { port });
  c.setID(unitId);
  c.setTimeout(timeoutMs);
  return c;
}

describe("sim: Modbus TCP server", function () {
  describe("register values", () => {
    let sim: Simulator;
    let c: ModbusRTU;
    before(async () => {
      // Speed 0.001: no step happens during the test, so every read sees the same sample.
      sim = await startSimulator({ seed: 9, speed: 0.001, modbusPort: 0, protocols: { modbus: true, opcua: false, mqtt: false } });
      c = await client(sim.modbusPort!, 1, 1000);
    });
    after(async () => {
      c?.close(() => undefined);
      await sim?.stop();
    });

    for (const device of MODBUS_MAP.devices) {
      it(`${device.name} (unit ${device.unitId}): every register decodes to the line's value, type and scale`, async () => {
        c.setID(device.unitId);
        const { values, ts } = sim.line;
        for (const def of device.registers) {
          let got: number | string | boolean;
          if (def.area === "coil") got = (await c.readCoils(def.address, 1)).data[0];
          else if (def.area === "discrete") got = (await c.readDiscreteInputs(def.address, 1)).data[0];
          else {
            const res = def.area === "holding" ? await c.readHoldingRegisters(def.address, count(def)) : await c.readInputRegisters(def.address, count(def));
            got = decode(def, res.buffer);
          }
          // A unit's clock registers hold the time of the sample the other registers hold.
          const want = def.role === "clock" ? ts : values[def.tag];
          assert.notStrictEqual(want, undefined, `${def.tag} has a value`);
          if (typeof want === "number" && def.type === "float32") assert.ok(Math.abs((got as number) - Math.fround(want)) < 1e-9, `${def.tag}: ${got} vs ${want}`);
          else if (typeof want === "number" && def.type !== "float64") assert.ok(Math.abs((got as number) - want) <= (def.scale ?? 1) / 2 + 1e-9, `${def.tag}: ${got} vs ${want}`);
          else assert.strictEqual(got, want, def.tag);
        }
      });
    }

    it("answers exception 2 beyond the device's address space and 11 for an unknown unit", async () => {
      c.setID(1);
      await assert.rejects(c.readHoldingRegisters(99, 2), (e: { modbusCode?: number }) => e.modbusCode === 2);
      c.setID(7);
      await assert.rejects(c.readHoldingRegisters(0, 1), (e: { modbusCode?: number }) => e.modbusCode === 11);
      c.setID(1);
      assert.strictEqual((await c.readHoldingRegisters(0, 1)).data[0], 100, "still serving after exceptions");
    });
  });

  describe("faults", () => {
    it("exceptions, timeouts and an offline device appear on the labelled unit inside the label window", async function () {
      this.timeout(30_000);
      const speed = 50;
      const sim = await startSimulator({
        seed: 4,
        speed,
        faults: ["modbus_exception", "device_offline", "modbus_timeout"],
        plan: { warmupMs: 2000, gapMs: [3000, 4000] },
        modbusPort: 0,
        protocols: { modbus: true, opcua: false, mqtt: false },
      });
      type Outcome = { unit: string; ts: number; result: "ok" | "timeout" | number; ms: number };
      const outcomes: Outcome[] = [];
      let running = true;
      const poll = async (unit: string, unitId: number): Promise<void> => {
        const c = await client(sim.modbusPort!, unitId, 120);
        while (running) {
          const ts = sim.line.ts;
          const t0 = Date.now();
          try {
            await c.readHoldingRegisters(0, 2);
            outcomes.push({ unit, ts, result: "ok", ms: Date.now() - t0 });
          } catch (e) {
            const err = e as { modbusCode?: number; errno?: string };
            outcomes.push({ unit, ts, result: err.modbusCode ?? (err.errno === "ETIMEDOUT" ? "timeout" : -1), ms: Date.now() - t0 });
          }
          await delay(10);
        }
        c.close(() => undefined);
      };
      const pollers = [poll("meter1", 1), poll("legacy1", 2)];
      try {
        const deadline = Date.now() + 20_000;
        while (sim.labels().filter((l) => l.end + 6000 < sim.line.ts).length < 3 && Date.now() < deadline) await delay(50);
      } finally {
        running = false;
        await Promise.all(pollers);
        await sim.stop();
      }
      // Judge the faults that ended while the pollers ran (a fourth may just have started).
      const lastTs = Math.max(...outcomes.map((o) => o.ts));
      const labels = sim.labels().filter((l) => l.end < lastTs);
      assert.deepStrictEqual(new Set(labels.map((l) => l.fault)), new Set(["modbus_exception", "device_offline", "modbus_timeout"]));
      // A request is judged by the simulated time it was sent at, with a few steps of slack either
      // side: the server decides when it handles the request, a step (20 ms here) or two later.
      const step = 3000;
      const inside = (o: Outcome, l: Label): boolean => o.unit === l.tag && o.ts >= l.start + step && o.ts < l.end - step;
      const near = (o: Outcome): boolean => sim.labels().some((l) => o.unit === l.tag && o.ts >= l.start - step && o.ts < l.end + step);
      for (const l of labels) {
        const during = outcomes.filter((o) => inside(o, l));
        const trace = (): string => JSON.stringify(outcomes.filter((o) => o.unit === l.tag && o.ts >= l.start - 5000 && o.ts < l.end + 5000).map((o) => [(o.ts - l.start) / 1000, o.result, o.ms]));
        assert.ok(during.length >= 3, `${l.fault} ${(l.end - l.start) / 1000} s: ${during.length} reads inside its window ${trace()}`);
        if (l.fault === "modbus_exception") assert.ok(during.every((o) => o.result === l.params!.code), `${l.fault}: ${JSON.stringify(during.map((o) => o.result))}`);
        if (l.fault === "device_offline") assert.ok(during.every((o) => o.result === "timeout"), `${l.fault}: ${JSON.stringify(during.map((o) => o.result))}`);
        if (l.fault === "modbus_timeout") {
          const timeouts = during.filter((o) => o.result === "timeout").length;
          assert.ok(timeouts >= 1 && timeouts < during.length && during.every((o) => o.result === "ok" || o.result === "timeout"), JSON.stringify(during.map((o) => o.result)));
        }
      }
      const outside = outcomes.filter((o) => !near(o));
      assert.ok(outside.length > 20);
      assert.ok(outside.every((o) => o.result === "ok"), `outside labels: ${JSON.stringify(outside.filter((o) => o.result !== "ok"))}`);
    });
  });
});
