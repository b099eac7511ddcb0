/**
 * DeviceClock on its own, with a scripted host clock: held Signals of a never-read unit, stamped
 * back from the first reading; the bound after which they go out uncertain; the rate measured
 * between readings for extrapolation (a clock running 30x, as the simulator at --speed 30).
 */
import * as assert from "assert";
import type { Signal } from "../../nodes/shared";
import { CLOCK_UNREAD, DeviceClock, RATE_BASELINE_MS } from "../../nodes/otb-modbus-in/device-clock";
import type { TagDef } from "../../nodes/otb-modbus-in/register-map";

const DEVICE = Date.UTC(2020, 5, 1, 8, 0, 0);
const tag = (t: string, unitId?: number, role?: "clock"): TagDef => ({ tag: t, area: "holding", address: 0, type: "uint16", group: "g", unitId, role }) as TagDef;
const TAGS = [tag("clock", 1, "clock"), tag("v", 1), tag("other", 2)];

function sig(t: string, ts: number, value: number | null = 1, quality: Signal["quality"] = "good"): Signal {
  const s: Signal = { tag: t, value, ts, quality, source: { protocol: "modbus", address: "x", device: "d" } };
  if (quality === "bad") s.reasons = ["comm_lost"];
  return s;
}

describe("DeviceClock (unit)", () => {
  let host: number;
  const clock = (opts = {}): DeviceClock => new DeviceClock(TAGS, () => host, opts);
  beforeEach(() => (host = 1_000_000));

  it("holds a never-read unit's Signals, then sends them stamped back from the first reading", () => {
    const dc = clock();
    const r1 = dc.stamp("g", [sig("clock", host, null, "bad"), sig("v", host), sig("other", host)]);
    assert.strictEqual(r1.held, 2);
    assert.deepStrictEqual(r1.out.map((o) => o.batch.map((s) => s.tag)), [["other"]], "an unclocked unit is not held");
    host += 1000;
    dc.stamp("g", [sig("clock", host, null, "bad"), sig("v", host)]);
    assert.strictEqual(dc.holding, 4);
    host += 500;
    const r3 = dc.stamp("g", [sig("clock", host, DEVICE), sig("v", host)]);
    assert.strictEqual(dc.holding, 0);
    const ts = r3.out.map((o) => o.batch.map((s) => [s.tag, s.ts]));
    assert.deepStrictEqual(ts, [
      [["clock", DEVICE - 1500], ["v", DEVICE - 1500]],
      [["clock", DEVICE - 500], ["v", DEVICE - 500]],
      [["clock", DEVICE], ["v", DEVICE]],
    ]);
    assert.strictEqual(dc.counters.held, 4);
  });

  it("gives up after maxHoldMs: held and later Signals go out uncertain with host time, once reported; a reading ends it", () => {
    const dc = clock({ maxHoldMs: 3000 });
    const t0 = host;
    dc.stamp("g", [sig("clock", host, null, "bad"), sig("v", host)]);
    host += 3000;
    const r = dc.stamp("g", [sig("clock", host, null, "bad"), sig("v", host)]);
    assert.deepStrictEqual(r.gaveUp, [1]);
    assert.strictEqual(r.held, 0);
    const out = r.out.flatMap((o) => o.batch);
    assert.deepStrictEqual(out.map((s) => [s.tag, s.ts, s.quality]), [["clock", t0, "bad"], ["v", t0, "uncertain"], ["clock", host, "bad"], ["v", host, "uncertain"]]);
    assert.deepStrictEqual(out[1]!.reasons, [CLOCK_UNREAD]);
    assert.deepStrictEqual(out[0]!.reasons, ["comm_lost", CLOCK_UNREAD]);
    host += 100;
    const r2 = dc.stamp("g", [sig("clock", host, null, "bad"), sig("v", host)]);
    assert.deepStrictEqual(r2.gaveUp, [], "reported once per outage");
    assert.strictEqual(r2.out[0]!.batch[1]!.quality, "uncertain");
    assert.deepStrictEqual(dc.unread, [1]);
    host += 100;
    const r3 = dc.stamp("g", [sig("clock", host, DEVICE), sig("v", host)]);
    assert.deepStrictEqual(r3.recovered, [1]);
    assert.deepStrictEqual(r3.out[0]!.batch.map((s) => [s.ts, s.quality]), [[DEVICE, "good"], [DEVICE, "good"]]);
    assert.deepStrictEqual(dc.unread, []);
    assert.strictEqual(dc.counters.unread, 6);
  });

  it("gives up when maxHeld Signals are held, whatever the time", () => {
    const dc = clock({ maxHeld: 4 });
    assert.strictEqual(dc.stamp("g", [sig("clock", host, null, "bad"), sig("v", host)]).out.length, 0);
    host += 10;
    const r = dc.stamp("g", [sig("clock", host, null, "bad"), sig("v", host)]);
    assert.deepStrictEqual(r.gaveUp, [1]);
    assert.strictEqual(r.out.flatMap((o) => o.batch).length, 4, "nothing dropped");
  });

  it("extrapolates a failed read with the clock's measured rate (30x)", () => {
    const dc = clock();
    dc.stamp("g", [sig("clock", host, DEVICE), sig("v", host)]);
    host += 1000;
    // Before a baseline of RATE_BASELINE_MS the rate is taken as 1.
    assert.strictEqual(dc.stamp("g", [sig("clock", host, null, "bad"), sig("v", host)]).out[0]!.batch[1]!.ts, DEVICE + 1000);
    host += RATE_BASELINE_MS;
    const read = DEVICE + 30 * (1000 + RATE_BASELINE_MS);
    dc.stamp("g", [sig("clock", host, read), sig("v", host)]);
    host += 1000;
    assert.strictEqual(dc.stamp("g", [sig("clock", host, null, "bad"), sig("v", host)]).out[0]!.batch[1]!.ts, read + 30_000);
    // The pace changes (the simulator caught up with the wall clock): the next window measures 1x.
    host += RATE_BASELINE_MS;
    const slow = read + 1000 + RATE_BASELINE_MS; // 1x since the last reading
    dc.stamp("g", [sig("clock", host, slow)]);
    host += 1000;
    assert.strictEqual(dc.stamp("g", [sig("v", host)]).out[0]!.batch[0]!.ts, slow + 1000);
  });

  it("a clock that goes back starts a new rate measurement", () => {
    const dc = clock();
    dc.stamp("g", [sig("clock", host, DEVICE)]);
    host += RATE_BASELINE_MS;
    dc.stamp("g", [sig("clock", host, DEVICE + 10 * RATE_BASELINE_MS)]);
    host += 10;
    dc.stamp("g", [sig("clock", host, DEVICE - 3_600_000)]);
    host += 1000;
    assert.strictEqual(dc.stamp("g", [sig("v", host)]).out[0]!.batch[0]!.ts, DEVICE - 3_600_000 + 1000);
  });

  it("a map without a clock passes batches through untouched", () => {
    const dc = new DeviceClock([tag("v")], () => host);
    const batch = [sig("v", 5)];
    assert.strictEqual(dc.stamp("g", batch).out[0]!.batch, batch);
  });
});
