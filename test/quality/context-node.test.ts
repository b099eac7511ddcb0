import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as sinon from "sinon";
import otbContext = require("../../nodes/otb-context/otb-context");
import otbLine = require("../../nodes/otb-line/otb-line");
import { contextFilePath } from "../../nodes/otb-context/context-file";
import { validateContextEvent, validateSignal, type ContextEvent, type Signal } from "../../nodes/shared";
import { helper, nextMessage, tab } from "../helpers/red";
import { delay, waitFor } from "../helpers/peers";
import { signal } from "./streams";

const LINE = {
  id: "line", type: "otb-line", enterprise: "acme", site: "plant1", area: "pumps", line: "line1", timeZone: "Europe/Berlin",
  defaultProduct: "P-100",
  shifts: [{ name: "early", start: "06:00", end: "14:00" }, { name: "late", start: "14:00", end: "22:00" }, { name: "night", start: "22:00", end: "06:00" }],
};
const JUNE = Date.UTC(2026, 5, 10, 8, 0); // 10:00 CEST: early shift

interface Spied {
  status: sinon.SinonSpy;
  error: sinon.SinonSpy;
  receive(msg: Record<string, unknown>): void;
  on(event: string, fn: (m: never) => void): void;
}
const node = (id: string): Spied => helper.getNode(id) as unknown as Spied;

function flow(config: Record<string, unknown> = {}): Array<Record<string, unknown>> {
  return tab([
    LINE,
    { id: "ctx", type: "otb-context", line: "line", modeSource: "none", contextTopic: "context", persist: false, wires: [["out"], ["events"]], ...config },
    { id: "out", type: "helper" },
    { id: "events", type: "helper" },
    { id: "c", type: "catch", scope: ["ctx"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper" },
  ]);
}

/** Collects what the two outputs and the catch node receive. */
function collect(): { out: Array<Record<string, unknown>>; events: ContextEvent[]; caught: Array<Record<string, unknown>> } {
  const seen = { out: [] as Array<Record<string, unknown>>, events: [] as ContextEvent[], caught: [] as Array<Record<string, unknown>> };
  node("out").on("input", (m: Record<string, unknown>) => seen.out.push(m));
  node("events").on("input", (m: { payload: ContextEvent }) => seen.events.push(m.payload));
  node("caught").on("input", (m: Record<string, unknown>) => seen.caught.push(m));
  return seen;
}

describe("otb-context node", () => {
  afterEach(() => helper.unload());

  it("stamps the ISA-95 path, product, shift and UNS topics, sharing one context object per batch", async () => {
    await helper.load([otbLine, otbContext], flow({ cell: "cell-a", asset: "pump1" }));
    const out = nextMessage(helper.getNode("out"));
    const ev = nextMessage(helper.getNode("events"));
    node("ctx").receive({ payload: [signal("pump1.motor.current", 2.4, JUNE), signal("pump1.flow", 30, JUNE + 500)] });
    const m = await out;
    const signals = m.payload as Signal[];
    assert.deepEqual(signals[0].context, { enterprise: "acme", site: "plant1", area: "pumps", line: "line1", cell: "cell-a", asset: "pump1", product: "P-100", shift: "early" });
    assert.equal(signals[0].context, signals[1].context, "one shared object, no per-Signal allocation");
    assert.ok(signals.every((s) => validateSignal(s)), "stamped Signals still match the contract");
    assert.equal(m.topic, "acme/plant1/pumps/line1");
    assert.deepEqual(m.topics, ["acme/plant1/pumps/line1/pump1.motor.current", "acme/plant1/pumps/line1/pump1.flow"]);
    const event = (await ev).payload as ContextEvent;
    assert.ok(validateContextEvent(event));
    assert.deepEqual(event.changed, ["product", "shift"], "the first Signal announces the context");
  });

  for (const [day, nightStartUtc, nightEndUtc, hours] of [
    ["spring-forward day 2026-03-29", Date.UTC(2026, 2, 28, 21), Date.UTC(2026, 2, 29, 4), 7],
    ["fall-back day 2026-10-25", Date.UTC(2026, 9, 24, 20), Date.UTC(2026, 9, 25, 5), 9],
  ] as const) {
    it(`computes shifts on the ${day}: the night shift lasts ${hours} h`, async () => {
      await helper.load([otbLine, otbContext], flow());
      const seen = collect();
      // One Signal per minute from noon before to noon after, in hourly batches.
      const start = nightStartUtc - 9 * 3600_000;
      for (let h = 0; h < 24; h++) {
        node("ctx").receive({ payload: Array.from({ length: 60 }, (_, i) => signal("t", i, start + (h * 60 + i) * 60_000)) });
      }
      await waitFor(() => seen.out.length === 24, 5000, "24 batches");
      const shiftChanges = seen.events.filter((e) => e.changed.includes("shift")).map((e) => [e.context.shift, e.ts]);
      const nightStart = shiftChanges.find(([s]) => s === "night")![1] as number;
      const earlyAfter = shiftChanges.find(([s, ts]) => s === "early" && (ts as number) > nightStart)![1] as number;
      assert.equal(new Date(nightStart).toISOString(), new Date(nightStartUtc).toISOString(), "night starts at 22:00 local");
      assert.equal(new Date(earlyAfter).toISOString(), new Date(nightEndUtc).toISOString(), "early starts at 06:00 local");
      assert.equal((earlyAfter - nightStart) / 3600_000, hours);
      const stamped = seen.out.flatMap((m) => m.payload as Signal[]);
      const nightSignals = stamped.filter((s) => s.context?.shift === "night").length;
      assert.equal(nightSignals, hours * 60, "every minute of the night is stamped night");
    });
  }

  it("derives idle/running from a threshold with hysteresis and reports each change", async () => {
    await helper.load([otbLine, otbContext], flow({ modeSource: "threshold", modeTag: "pump1.motor.current", threshold: "0.5", hysteresis: "0.3" }));
    const seen = collect();
    const currents = [2.4, 2.3, 0.1, 0.6, 0.7, 0.9, 2.4];
    node("ctx").receive({ payload: currents.map((v, i) => signal("pump1.motor.current", v, JUNE + i * 1000)) });
    await waitFor(() => seen.out.length === 1, 2000, "the batch");
    const modes = (seen.out[0].payload as Signal[]).map((s) => s.context?.mode);
    // Back to running only at 0.5 + 0.3 = 0.8 A.
    assert.deepEqual(modes, ["running", "running", "idle", "idle", "idle", "running", "running"]);
    await waitFor(() => seen.events.length === 3, 2000, "three events");
    assert.deepEqual(seen.events.map((e) => [e.changed, e.context.mode]), [[["product", "shift", "mode"], "running"], [["mode"], "idle"], [["mode"], "running"]]);
  });

  it("maps a state tag's values to modes; a mode name needs no row, anything else is unknown", async () => {
    await helper.load([otbLine, otbContext], flow({ modeSource: "state", modeTag: "line.state_code", stateMap: [{ value: "1", mode: "running" }, { value: "3", mode: "changeover" }] }));
    const seen = collect();
    const values = [1, 3, "maintenance", 99];
    node("ctx").receive({ payload: values.map((v, i) => signal("line.state_code", v, JUNE + i * 1000)) });
    await waitFor(() => seen.out.length === 1, 2000, "the batch");
    assert.deepEqual((seen.out[0].payload as Signal[]).map((s) => s.context?.mode), ["running", "changeover", "maintenance", "unknown"]);
  });

  it("takes product, batch and order from context messages and emits one event per change", async () => {
    await helper.load([otbLine, otbContext], flow());
    const seen = collect();
    node("ctx").receive({ topic: "context", payload: { product: "P-200", batch: "B-17", order: "O-9" } });
    node("ctx").receive({ topic: "context", payload: { batch: "B-18" } });
    node("ctx").receive({ topic: "context", payload: { batch: "B-18" } }); // no change, no event
    node("ctx").receive({ payload: { kind: "context", ts: JUNE, context: { enterprise: "x", site: "x", area: "x", line: "x", order: "O-10" }, changed: ["order"] } });
    // Updates take the shift at wall-clock time; a Signal from now is in the same shift.
    node("ctx").receive({ payload: [signal("t", 1, Date.now())] });
    await waitFor(() => seen.out.length === 1, 2000, "the batch");
    assert.deepEqual(seen.events.map((e) => e.changed), [["product", "batch", "order", "shift"], ["batch"], ["order"]]);
    const ctx = (seen.out[0].payload as Signal[])[0].context!;
    assert.deepEqual([ctx.product, ctx.batch, ctx.order, ctx.line], ["P-200", "B-18", "O-10", "line1"], "identity comes from the line, not the message");
    node("ctx").receive({ topic: "context", payload: { product: null } });
    await waitFor(() => seen.events.length === 4, 2000, "the clearing event");
    assert.equal(seen.events[3].context.product, "P-100", "a cleared product falls back to the line's default");
  });

  it("dates a change from a ContextEvent at the event's time, an operator's change at the wall clock", async () => {
    await helper.load([otbLine, otbContext], flow());
    const seen = collect();
    // A simulator's schedule at 30x, or a replay: the change belongs on the data's time line.
    node("ctx").receive({ payload: { kind: "context", ts: JUNE + 5 * 60_000, context: { enterprise: "x", site: "x", area: "x", line: "x", product: "P-300" }, changed: ["product"] } });
    await waitFor(() => seen.events.length === 1, 2000, "the event's change");
    assert.equal(seen.events[0]!.ts, JUNE + 5 * 60_000, "stamped with the event's time, not the wall clock");
    const before = Date.now();
    node("ctx").receive({ topic: "context", payload: { product: "P-400" } });
    await waitFor(() => seen.events.length === 2, 2000, "the operator's change");
    assert.ok(seen.events[1]!.ts >= before && seen.events[1]!.ts <= Date.now(), "an operator's change is dated now");
  });

  it("lets an operator's mode win over the derived one until cleared", async () => {
    await helper.load([otbLine, otbContext], flow({ modeSource: "threshold", modeTag: "i", threshold: "0.5" }));
    const seen = collect();
    node("ctx").receive({ payload: [signal("i", 2, JUNE)] });
    node("ctx").receive({ topic: "context", payload: { mode: "maintenance" } });
    node("ctx").receive({ payload: [signal("i", 2, JUNE + 1000)] });
    node("ctx").receive({ topic: "context", payload: { mode: null } });
    node("ctx").receive({ payload: [signal("i", 2, JUNE + 2000)] });
    await waitFor(() => seen.out.length === 3, 2000, "three batches");
    assert.deepEqual(seen.out.map((m) => (m.payload as Signal[])[0].context?.mode), ["running", "maintenance", "running"]);
  });

  it("refuses a bad context update with an error a Catch node sees, and changes nothing", async () => {
    await helper.load([otbLine, otbContext], flow());
    const seen = collect();
    node("ctx").receive({ topic: "context", payload: { product: "P-1", line: "line9" } });
    node("ctx").receive({ topic: "context", payload: { mode: "sleeping" } });
    node("ctx").receive({ topic: "context", payload: { batch: 17 } });
    await waitFor(() => seen.caught.length === 3, 2000, "three errors");
    const messages = seen.caught.map((m) => (m.error as { message: string }).message);
    assert.match(messages[0], /"line" cannot be set by a message/);
    assert.match(messages[1], /mode "sleeping" is not one of/);
    assert.match(messages[2], /"batch" must be a string/);
    assert.equal(seen.events.length, 0);
  });

  it("stamps the valid items of a mixed batch and reports the others with the items", async () => {
    await helper.load([otbLine, otbContext], flow());
    const seen = collect();
    node("ctx").receive({ payload: [signal("t", 1, JUNE), 42, { tag: "a/b", ts: JUNE }, { tag: "x", ts: NaN }] });
    await waitFor(() => seen.out.length === 1 && seen.caught.length === 1, 2000, "output and error");
    assert.equal((seen.out[0].payload as Signal[]).length, 1);
    assert.equal((seen.caught[0].invalid as unknown[]).length, 3);
    assert.match((seen.caught[0].error as { message: string }).message, /3 item\(s\) are not Signals/);
  });

  it("turns red and refuses input without a deployed line", async () => {
    await helper.load([otbLine, otbContext], flow({ line: "missing" }).filter((n) => n.id !== "line"));
    const seen = collect();
    assert.equal(node("ctx").status.firstCall.args[0].fill, "red");
    node("ctx").receive({ payload: [signal("t", 1, JUNE)] });
    await waitFor(() => seen.caught.length >= 1, 2000, "the error");
    assert.equal(seen.out.length, 0);
  });

  it("refuses to keep its context without a userDir, saying how to fix it, once in Catch", async () => {
    helper.settings({ userDir: undefined });
    await helper.load([otbLine, otbContext], flow({ persist: true }));
    const seen = collect();
    await waitFor(() => seen.caught.length >= 1, 10_000, "the report in Catch");
    assert.match(String((seen.caught[0]!.error as { message: string }).message), /no userDir, so otb-context's saved product.*--userDir/);
    assert.equal(node("ctx").status.lastCall.args[0].fill, "red");
    assert.match(node("ctx").status.lastCall.args[0].text, /^config: Node-RED has no userDir/);
    const batch = [signal("t", 1, JUNE)];
    node("ctx").receive({ payload: batch });
    await waitFor(() => seen.caught.length === 2, 10_000, "the message in Catch");
    assert.deepEqual(seen.caught[1]!.payload, batch);
    assert.equal(seen.out.length, 0);
  });

  describe("persistence", () => {
    let userDir = "";
    beforeEach(() => {
      userDir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-ctx-"));
      helper.settings({ userDir });
    });
    afterEach(() => {
      helper.settings({ userDir: undefined });
      fs.rmSync(userDir, { recursive: true, force: true });
    });

    it("keeps product, batch, order and a manual mode across a restart", async () => {
      await helper.load([otbLine, otbContext], flow({ persist: true }));
      node("ctx").receive({ topic: "context", payload: { product: "P-300", batch: "B-1", order: "O-1", mode: "changeover" } });
      const file = contextFilePath(userDir, "ctx");
      await waitFor(() => fs.existsSync(file), 2000, "the context file");
      await helper.unload(); // close waits for the write
      const saved = JSON.parse(fs.readFileSync(file, "utf8"));
      assert.deepEqual([saved.product, saved.batch, saved.order, saved.mode], ["P-300", "B-1", "O-1", "changeover"]);

      await helper.load([otbLine, otbContext], flow({ persist: true }));
      const out = nextMessage(helper.getNode("out"));
      node("ctx").receive({ payload: [signal("t", 1, JUNE)] });
      const ctx = ((await out).payload as Signal[])[0].context!;
      assert.deepEqual([ctx.product, ctx.batch, ctx.order, ctx.mode], ["P-300", "B-1", "O-1", "changeover"]);
    });

    it("starts empty, with an error, when the saved file is corrupt", async () => {
      const file = contextFilePath(userDir, "ctx");
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, "{not json");
      await helper.load([otbLine, otbContext], flow({ persist: true }));
      const seen = collect();
      await waitFor(() => seen.caught.length === 1, 10_000, "the report in Catch");
      assert.match(String((seen.caught[0]!.error as { message: string }).message), /unreadable, starting empty/);
      const out = nextMessage(helper.getNode("out"));
      node("ctx").receive({ payload: [signal("t", 1, JUNE)] });
      assert.equal(((await out).payload as Signal[])[0].context?.product, "P-100");
      await delay(10);
    });
  });
});
