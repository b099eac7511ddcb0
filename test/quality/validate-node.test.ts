import { strict as assert } from "assert";
import * as path from "path";
import * as sinon from "sinon";
import otbValidate = require("../../nodes/otb-validate/otb-validate");
import type { QualitySummary } from "../../nodes/otb-validate/counters";
import type { Signal } from "../../nodes/shared";
import { helper, nextMessage, tab } from "../helpers/red";
import { waitFor } from "../helpers/peers";
import { ruleFor, signal, T0 } from "./streams";

const REPO = path.resolve(__dirname, "..", "..", "..");

/** The helper's nodes, whose status/error/send are sinon spies. */
interface Spied {
  status: sinon.SinonSpy;
  error: sinon.SinonSpy;
  receive(msg: Record<string, unknown>): void;
}
const spied = (id: string): Spied => helper.getNode(id) as unknown as Spied;

function flow(config: Record<string, unknown> = {}): Array<Record<string, unknown>> {
  return tab([
    { id: "v", type: "otb-validate", name: "", rulesFrom: "table", rules: [ruleFor("p"), { tag: "flag", type: "boolean" }], unknownTags: "pass", maxStringLength: "1024", summaryInterval: "0", warnBelowPct: "95", wires: [["ok"], ["q"], ["sum"]], ...config },
    { id: "ok", type: "helper" },
    { id: "q", type: "helper" },
    { id: "sum", type: "helper" },
    { id: "c", type: "catch", scope: ["v"], uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper" },
    { id: "done", type: "complete", scope: ["v"], uncaught: false, wires: [["completed"]] },
    { id: "completed", type: "helper" },
  ]);
}

describe("otb-validate node", () => {
  let clock: sinon.SinonFakeTimers | null = null;
  afterEach(async () => {
    clock?.restore();
    clock = null;
    await helper.unload();
  });

  it("routes good and uncertain to output 1, bad and invalid items to output 2, and keeps the message", async () => {
    await helper.load(otbValidate, flow());
    const v = spied("v");
    const ok = nextMessage(helper.getNode("ok"));
    const q = nextMessage(helper.getNode("q"));
    const completed = nextMessage(helper.getNode("completed"));
    const batch = [signal("p", 50, T0), signal("p", 65, T0 + 10_000), signal("p", 150, T0 + 60_000), signal("flag", 1, T0), "garbage"];
    v.receive({ payload: batch, topic: "line1/poll", user: "kept" });
    const [m1, m2] = await Promise.all([ok, q]);
    const passed = m1.payload as Signal[];
    assert.deepEqual(passed.map((s) => [s.value, s.quality, s.reasons]), [[50, "good", undefined], [65, "uncertain", ["out_of_range"]]]);
    assert.equal(m1.user, "kept");
    assert.equal(m1.topic, "line1/poll");
    const bad = m2.payload as Signal[];
    assert.deepEqual(bad.map((s) => s.reasons), [["out_of_range"], ["type_mismatch"]]);
    assert.deepEqual((m2.invalid as Array<{ index: number }>).map((x) => x.index), [4]);
    assert.equal(m2._msgid, m1._msgid, "both halves of a batch keep its message id");
    const caught = await nextMessage(helper.getNode("caught"));
    assert.match(String((caught.error as { message: string }).message), /1 item\(s\) are not valid Signals; first: \[4\] item is string/);
    await Promise.race([completed.then(() => assert.fail("done() without error was also called")), new Promise((r) => setTimeout(r, 50))]);
  });

  it("calls done() for a clean batch (Complete node) and shows the good share in the status", async () => {
    await helper.load(otbValidate, flow());
    const v = spied("v");
    const completed = nextMessage(helper.getNode("completed"));
    v.receive({ payload: [signal("p", 50, T0), signal("p", 51, T0 + 1000), signal("p", 52, T0 + 2000), signal("p", 65, T0 + 3000)] });
    await completed;
    const last = v.status.lastCall.args[0];
    assert.deepEqual(last, { fill: "yellow", shape: "dot", text: "75% good" }, "75 % is below the 95 % warning level");
    v.receive({ payload: Array.from({ length: 96 }, (_, i) => signal("p", 50 + (i % 2) * 0.5, T0 + 20_000 + i * 1000)) });
    await waitFor(() => v.status.lastCall.args[0].text === "99% good", 2000, `status 99% good, got ${JSON.stringify(v.status.args)}`);
    assert.equal(v.status.lastCall.args[0].fill, "green");
  });

  it("accepts a single Signal and answers with a one-element batch", async () => {
    await helper.load(otbValidate, flow());
    const ok = nextMessage(helper.getNode("ok"));
    helper.getNode("v").receive({ payload: signal("p", 50, T0) });
    assert.equal(((await ok).payload as Signal[]).length, 1);
  });

  it("reports a tag as stale on output 2 from its timer, with no input", async () => {
    clock = sinon.useFakeTimers({ now: T0, toFake: ["setInterval", "clearInterval", "Date"] });
    await helper.load(otbValidate, flow());
    const v = spied("v");
    const q = helper.getNode("q");
    const received: Array<Record<string, unknown>> = [];
    q.on("input", (m: Record<string, unknown>) => received.push(m));
    v.receive({ payload: [signal("p", 50, T0)] });
    await waitFor(() => v.status.called, 1000, "first status");
    clock.tick(4_900);
    await new Promise((r) => setImmediate(r));
    assert.equal(received.length, 0, "not stale before 5 s");
    clock.tick(600); // stale after 5 s, checked every 500 ms
    await waitFor(() => received.length === 1, 1000, "the stale message");
    const stale = received[0].payload as Signal[];
    assert.equal(received[0].topic, "stale");
    assert.deepEqual(stale.map((s) => [s.tag, s.quality, s.reasons, s.value]), [["p", "bad", ["stale"], null]]);
    assert.ok(stale[0].ts - T0 >= 5000 && stale[0].ts - T0 <= 5500, "reported within a tenth of staleMs");
    assert.match(v.status.lastCall.args[0].text, /1 stale/);
  });

  it("sends the per-tag quality summary on output 3 every interval", async () => {
    clock = sinon.useFakeTimers({ now: T0, toFake: ["setInterval", "clearInterval", "Date"] });
    await helper.load(otbValidate, flow({ summaryInterval: "60" }));
    const v = spied("v");
    const sum = nextMessage(helper.getNode("sum"));
    v.receive({ payload: [signal("p", 50, T0), signal("p", 150, T0 + 60_000), 7] });
    await waitFor(() => v.status.called, 1000, "status");
    clock.tick(60_000);
    const m = await sum;
    const s = m.payload as QualitySummary;
    assert.equal(m.topic, "quality");
    assert.equal(s.kind, "quality");
    assert.deepEqual(s.totals, { in: 3, good: 1, uncertain: 0, bad: 2, stale: 1, goodPct: 33.3, invalid: 1 }, "p went stale during the minute");
    assert.deepEqual(s.neverSeen, ["flag"]);
  });

  it("loads rules from the pilot tag catalog file", async () => {
    await helper.load(otbValidate, flow({ rulesFrom: "file", catalogFile: path.join(REPO, "flows/catalog/pilot-rules.json") }));
    const v = spied("v");
    const q = nextMessage(helper.getNode("q"));
    v.receive({ payload: [signal("pump1.motor.current", 12, T0)] });
    assert.deepEqual(((await q).payload as Signal[])[0].reasons, ["out_of_range"]);
    assert.equal(((await q).payload as Signal[])[0].unit, "A");
  });

  it("turns red on an unreadable catalog, says why in Catch, and hands every later message to Catch and its reject output with its items", async () => {
    await helper.load(otbValidate, flow({ rulesFrom: "file", catalogFile: "/nonexistent/rules.json" }));
    const v = spied("v");
    const deployReport = await nextMessage(helper.getNode("caught"));
    assert.match(String((deployReport.error as { message: string }).message), /cannot read tag catalog \/nonexistent\/rules\.json: ENOENT/);
    assert.equal(v.status.lastCall.args[0].fill, "red");
    assert.match(v.status.lastCall.args[0].text, /config: cannot read tag catalog/);
    const out: unknown[] = [];
    const rejected: Array<{ invalid: Array<{ item: unknown; reason: string }> }> = [];
    helper.getNode("ok").on("input", (m: unknown) => out.push(m));
    helper.getNode("q").on("input", (m: unknown) => rejected.push(m as (typeof rejected)[number]));
    const caught = nextMessage(helper.getNode("caught"));
    const batch = [signal("p", 50, T0)];
    v.receive({ payload: batch });
    const m = await caught;
    assert.deepEqual(m.payload, batch, "the items reach Catch, not lost");
    assert.match(String((m.error as { message: string }).message), /cannot read tag catalog .*ENOENT/);
    assert.deepEqual(out, [], "nothing passes while the node cannot run");
    await waitFor(() => rejected.length === 1, 5000, "the items on the reject output");
    assert.deepEqual(rejected[0]!.invalid.map((r) => r.item), batch);
    assert.match(rejected[0]!.invalid[0]!.reason, /^otb-validate is not configured: cannot read tag catalog/);
  });

  it("refuses rules from a file without a catalog file, naming the field", async () => {
    await helper.load(otbValidate, flow({ rulesFrom: "file", catalogFile: "" }));
    const report = await nextMessage(helper.getNode("caught"));
    assert.match(String((report.error as { message: string }).message), /(^|: )rulesFrom "file" needs catalogFile \(the tag catalog to read\)$/);
    assert.match(spied("v").status.lastCall.args[0].text, /^config: rulesFrom "file" needs catalogFile/);
  });

  it("refuses a rule table with a band out of order, naming the tag", async () => {
    const rules = [{ tag: "p", range: { badBelow: 10, uncertainBelow: 5 } }];
    await helper.load(otbValidate, flow({ rules }));
    const report = await nextMessage(helper.getNode("caught"));
    assert.match(String((report.error as { message: string }).message), /tags\[0\] \(p\): range uncertainBelow \(5\) is below badBelow \(10\)/);
    assert.equal(spied("v").status.lastCall.args[0].fill, "red");
  });

  it("serves per-tag counters at the admin endpoint and resets them", async () => {
    await new Promise<void>((resolve, reject) => helper.startServer((err?: Error) => (err ? reject(err) : resolve())));
    try {
      await helper.load(otbValidate, flow());
      const v = spied("v");
      const q = nextMessage(helper.getNode("q"));
      v.receive({ payload: [signal("p", 50, T0), signal("p", -5, T0 + 60_000)] });
      await q;
      const res = await helper.request().get("/otb-validate/v/quality").expect(200);
      const body = res.body as QualitySummary;
      const p = body.tags.find((t) => t.tag === "p")!;
      assert.deepEqual([p.in, p.good, p.bad, p.goodPct, p.reasons], [2, 1, 1, 50, { out_of_range: 1 }]);
      await helper.request().get("/otb-validate/nope/quality").expect(404);
      await helper.request().post("/otb-validate/v/reset").expect(200);
      const after = (await helper.request().get("/otb-validate/v/quality").expect(200)).body as QualitySummary;
      assert.equal(after.totals.in, 0);
    } finally {
      await helper.unload();
      await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
    }
  });
});
