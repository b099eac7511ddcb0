/**
 * Issue 14: ingestion you can trust after any device fault, against real peers that misbehave
 * (faulty-server-main.ts in its own process, a black-holing proxy). Each test asserts what a user
 * sees: values exactly once (counters contiguous), the time to resume, the request rate at the
 * server, one report per outage through a real Catch node, the status.
 */
import * as assert from "assert";
import type { Signal } from "../../nodes/shared";
import { REPUBLISH_MAX_PER_RECOVERY, REPUBLISH_MIN_INTERVAL_MS } from "../../nodes/otb-opcua-endpoint/republish-guard";
import { helper } from "../helpers/red";
import { delay, freePort, waitFor } from "../helpers/peers";
import { nodes, opcuaFlow, Recorder, tag, useClientPki } from "./flows";
import { peakRate, startFaultyServer, type FaultyServer, type FaultyServerStats } from "./faulty-server";
import { startBlackholeProxy, type BlackholeProxy } from "./blackhole-proxy";
import { startTestServer, type TestServer } from "./opcua-test-server";

/** The session timeout, which is also the bound on a channel repair (recoveryMaxMs). */
const SESSION_TIMEOUT_MS = 15_000;
const endpoint = { sessionTimeout: String(SESSION_TIMEOUT_MS) };

function goodValues(rec: Recorder, name: string): number[] {
  return rec.signals(name).filter((s) => s.quality === "good").map((s) => s.value as number);
}

/** Indices where a series of per-tick values skips ticks (`step` per tick). */
function gaps(values: number[], step: number): number[] {
  const at: number[] = [];
  for (let i = 1; i < values.length; i++) if (values[i] !== values[i - 1] + step) at.push(i);
  return at;
}

/** Strictly increasing (nothing twice, nothing reordered) with at most one gap: the outage. */
function assertExactlyOnceWithOneOutage(values: number[], step: number, what: string): number[] {
  for (let i = 1; i < values.length; i++) assert.ok(values[i] > values[i - 1], `${what}: ${values[i - 1]} then ${values[i]} (duplicate or reordered) at ${i}`);
  const g = gaps(values, step);
  assert.ok(g.length <= 1, `${what}: values after recovery are contiguous, gaps at ${g.map((i) => `${values[i - 1]}->${values[i]}`).join(", ")}`);
  return g.length === 1 ? values.slice(g[0]) : [];
}

/**
 * Ticks a subscription's initial values may lag its creation: the server samples them just after
 * creating the items, and two CPU hogs can delay that by a few 100 ms ticks.
 */
const TICK_SLACK = 5;

/** Nothing the server sent after recovery is missing: the first value after the outage is from the last subscription's start. */
function assertNothingLostAtRecovery(after: number[], stats: FaultyServerStats, step: number, what: string): void {
  const createdAt = stats.subscriptionTicks[stats.subscriptionTicks.length - 1];
  const firstTick = Math.floor(after[0] / step);
  assert.ok(firstTick <= createdAt + TICK_SLACK, `${what}: the first value after recovery is from tick ${firstTick}, the subscription started at tick ${createdAt}: values in between were lost`);
}

describe("otb-opcua-in recovery from device faults (issue 14)", function () {
  this.timeout(180_000);
  let pki: ReturnType<typeof useClientPki>;
  let faulty: FaultyServer | null = null;

  before(() => (pki = useClientPki()));
  after(() => pki.restore());
  afterEach(async () => {
    await helper.unload();
    await faulty?.close();
    faulty = null;
  });

  it("a server that answers Republish with Good and an empty message after a restart: few Republish requests, data resumes, one report", async () => {
    faulty = await startFaultyServer({ republishGoodEmpty: true, sameSubscriptionIds: true, tickMs: 100 });
    await helper.load(nodes, opcuaFlow(faulty.endpointUrl, [tag("ns=1;s=Counter", "counter", { samplingInterval: 0, queueSize: 500 })], { endpoint }));
    const rec = new Recorder();
    await waitFor(() => goodValues(rec, "counter").length >= 5, 30_000, "data before the restart");

    await faulty.restart();
    const restartedAt = Date.now();
    await waitFor(() => gaps(goodValues(rec, "counter"), 1).length > 0, SESSION_TIMEOUT_MS + 15_000, "data after the restart");
    const resumedIn = Date.now() - restartedAt;
    await waitFor(() => assertExactlyOnceWithOneOutage(goodValues(rec, "counter"), 1, "counter").length >= 10, 15_000, "ten values after recovery");
    await waitFor(() => /resumed/.test(rec.lastStatus()?.text ?? "") && rec.lastStatus()?.fill === "green", 10_000, "a green 'resumed' status");
    await delay(2_000); // a second report, session or subscription would show itself here

    const stats = await faulty.stats();
    const republish = stats.republishAt.length;
    const peak = peakRate(stats.republishAt);
    console.log(`      (resumed ${resumedIn} ms after the restart; Republish requests: ${republish}, peak ${peak}/s; Catch: ${rec.errors.join(" | ")})`);
    assert.ok(republish >= 1, "the client did ask Republish (the fault was exercised)");
    assert.ok(republish <= REPUBLISH_MAX_PER_RECOVERY, `Republish requests bounded: ${republish}`);
    assert.ok(peak <= 1000 / REPUBLISH_MIN_INTERVAL_MS, `Republish rate capped: ${peak} in one second`);
    assert.ok(resumedIn < SESSION_TIMEOUT_MS + 10_000, `resumed within the stated bound: ${resumedIn} ms`);
    assertNothingLostAtRecovery(assertExactlyOnceWithOneOutage(goodValues(rec, "counter"), 1, "counter"), stats, 1, "counter");
    assert.strictEqual(rec.errors.length, 1, `one report to Catch for one outage: ${rec.errors.join(" | ")}`);
    assert.match(rec.errors[0], /connection lost/);
    assert.strictEqual(rec.commLostBatches().length, 1, "comm_lost once");
    assert.strictEqual(stats.sessions, 1, "the dropped session is not left open on the server");
    assert.strictEqual(stats.subscriptions, 1);
  });

  it("a server that answers Republish with Good and an empty message after a network break: the loop ends, nothing is lost", async () => {
    faulty = await startFaultyServer({ republishGoodEmpty: true, tickMs: 100 });
    const proxy = await startBlackholeProxy(faulty.port);
    try {
      await helper.load(nodes, opcuaFlow(`opc.tcp://127.0.0.1:${proxy.port}`, [tag("ns=1;s=Counter", "counter", { samplingInterval: 0, queueSize: 500 })], { endpoint }));
      const rec = new Recorder();
      await waitFor(() => goodValues(rec, "counter").length >= 5, 30_000, "data before the break");
      proxy.blackhole();
      await waitFor(() => rec.commLostBatches().length === 1, 30_000, "comm_lost while black-holed");
      await delay(1_000);
      const before = goodValues(rec, "counter").length;
      const healedAt = Date.now();
      proxy.heal();
      await waitFor(() => goodValues(rec, "counter").length > before + 10, 30_000, "data after the heal");
      const resumedIn = Date.now() - healedAt;
      await delay(1_000);
      const stats = await faulty.stats();
      const values = goodValues(rec, "counter");
      console.log(`      (resumed ${resumedIn} ms after the heal; Republish requests: ${stats.republishAt.length}, values: ${values.length})`);
      assert.strictEqual(gaps(values, 1).length, 0, `every value exactly once, the break included: gaps at ${gaps(values, 1).map((i) => `${values[i - 1]}->${values[i]}`).join(", ")}`);
      assert.ok(stats.republishAt.length >= 1 && stats.republishAt.length <= 10, `a few Republish requests: ${stats.republishAt.length}`);
      assert.strictEqual(rec.errors.length, 1, `one report: ${rec.errors.join(" | ")}`);
    } finally {
      await helper.unload();
      await proxy.close();
    }
  });

  it("a server that answers Republish with another message than the one asked for: the session is dropped and rebuilt, data resumes, one report", async () => {
    faulty = await startFaultyServer({ republishWrongMessage: true, sameSubscriptionIds: true, tickMs: 100 });
    await helper.load(nodes, opcuaFlow(faulty.endpointUrl, [tag("ns=1;s=Counter", "counter", { samplingInterval: 0, queueSize: 500 })], { endpoint }));
    const rec = new Recorder();
    const ep = helper.getNode("ep") as unknown as { endpoint: { conn: NodeJS.EventEmitter } };
    const states: string[] = [];
    ep.endpoint.conn.on("state", (state: string, detail?: string) => states.push(`${state}: ${detail ?? ""}`));
    await waitFor(() => goodValues(rec, "counter").length >= 5, 30_000, "data before the restart");
    await faulty.restart();
    await waitFor(() => gaps(goodValues(rec, "counter"), 1).length > 0, SESSION_TIMEOUT_MS + 15_000, "data after the restart");
    await waitFor(() => assertExactlyOnceWithOneOutage(goodValues(rec, "counter"), 1, "counter").length >= 10, 15_000, "ten values after recovery");
    await delay(1_000);
    const stats = await faulty.stats();
    assert.ok(states.some((st) => /answered Republish for message \d+ with message \d+; dropping the session/.test(st)), `the session was dropped for it: ${states.join(" | ")}`);
    assert.ok(stats.republishAt.length <= 3, `Republish requests: ${stats.republishAt.length}`);
    assertNothingLostAtRecovery(assertExactlyOnceWithOneOutage(goodValues(rec, "counter"), 1, "counter"), stats, 1, "counter");
    assert.strictEqual(rec.errors.length, 1, `one report: ${rec.errors.join(" | ")}`);
    assert.strictEqual(stats.sessions, 1);
    assert.strictEqual(stats.subscriptions, 1);
  });

  it("a restarted server that re-creates the subscription with the same id: every value after recovery arrives exactly once", async () => {
    faulty = await startFaultyServer({ sameSubscriptionIds: true, bulkItems: 20, tickMs: 100 });
    const tags = Array.from({ length: 20 }, (_, i) => tag(`ns=1;s=Bulk.${i}`, `bulk.${i}`, { samplingInterval: 0, queueSize: 100 }));
    await helper.load(nodes, opcuaFlow(faulty.endpointUrl, tags, { endpoint }));
    const rec = new Recorder();
    // 3 s of data first: enough sequence numbers that a dedupe surviving the restart would eat 3 s after it.
    await waitFor(() => tags.every((_, i) => goodValues(rec, `bulk.${i}`).length >= 30), 30_000, "data before the restart");

    await faulty.restart();
    const restartedAt = Date.now();
    await waitFor(() => gaps(goodValues(rec, "bulk.0"), 1000).length > 0, SESSION_TIMEOUT_MS + 15_000, "data after the restart");
    const resumedIn = Date.now() - restartedAt;
    // About 3 s of 20 tags: the values that were once taken for duplicates.
    await waitFor(() => tags.every((_, i) => assertExactlyOnceWithOneOutage(goodValues(rec, `bulk.${i}`), 1000, `bulk.${i}`).length >= 30), 30_000, "3 s of every tag after recovery");
    await delay(1_000);

    const stats = await faulty.stats();
    assert.ok(stats.subscriptionIds.filter((id) => id === stats.subscriptionIds[0]).length >= 2, `the server re-created the subscription with the same id: ${stats.subscriptionIds.join(",")}`);
    let after = 0;
    tags.forEach((_, i) => {
      const values = goodValues(rec, `bulk.${i}`);
      values.forEach((v) => assert.strictEqual(v % 1000, i, `bulk.${i} carries its own values`));
      const recovered = assertExactlyOnceWithOneOutage(values, 1000, `bulk.${i}`);
      assertNothingLostAtRecovery(recovered, stats, 1000, `bulk.${i}`);
      after += recovered.length;
    });
    console.log(`      (resumed ${resumedIn} ms after the restart; ${after} values after recovery, subscription ids ${stats.subscriptionIds.join(",")})`);
    assert.strictEqual(rec.errors.length, 1, `one report to Catch for one outage: ${rec.errors.join(" | ")}`);
    assert.strictEqual(rec.commLostBatches().length, 1);
  });

  it("slow tags whose initial value the server never sends arrive once at a cold start and once after an outage", async () => {
    faulty = await startFaultyServer({ noInitialValueForSlow: true, tickMs: 100 });
    const slow = { "slow.product": "PUMP-7", "slow.batch": "B-2026-118", "slow.state": "RUNNING" } as Record<string, string>;
    const tags = [tag("ns=1;s=Slow.Product", "slow.product"), tag("ns=1;s=Slow.Batch", "slow.batch"), tag("ns=1;s=Slow.State", "slow.state"), tag("ns=1;s=Counter", "counter", { samplingInterval: 0, queueSize: 500 })];
    const loadedAt = Date.now();
    await helper.load(nodes, opcuaFlow(faulty.endpointUrl, tags, { endpoint }));
    const rec = new Recorder();
    const slowGood = (name: string): Signal[] => rec.signals(name).filter((s) => s.quality === "good");
    await waitFor(() => Object.keys(slow).every((t) => slowGood(t).length === 1), 30_000, "every slow tag at start");
    const deliveredIn = Date.now() - loadedAt;
    for (const [name, value] of Object.entries(slow)) assert.strictEqual(slowGood(name)[0].value, value, name);
    await delay(2_000);
    for (const name of Object.keys(slow)) assert.strictEqual(slowGood(name).length, 1, `${name} once, not again`);

    await faulty.restart();
    await waitFor(() => rec.commLostBatches().length === 1, 30_000, "comm_lost");
    await waitFor(() => Object.keys(slow).every((t) => slowGood(t).length === 2), SESSION_TIMEOUT_MS + 15_000, "every slow tag again after the outage");
    await delay(2_000);
    for (const [name, value] of Object.entries(slow)) {
      assert.strictEqual(slowGood(name).length, 2, `${name}: once at start and once after the outage`);
      assert.strictEqual(slowGood(name)[1].value, value);
      const lostAt = rec.signals(name).findIndex((s) => s.reasons?.includes("comm_lost"));
      assert.ok(lostAt > 0 && rec.signals(name).indexOf(slowGood(name)[1]) > lostAt, `${name}: the good value follows the comm_lost`);
    }
    assertExactlyOnceWithOneOutage(goodValues(rec, "counter"), 1, "counter");
    console.log(`      (slow tags delivered ${deliveredIn} ms after deploy; Catch: ${rec.errors.join(" | ")})`);
    assert.strictEqual(rec.errors.length, 1, "one report for the one outage");
  });

  it("a server that stops answering Publish behind a live link: reported once within the stated time, sessions restarted, data resumes", async () => {
    faulty = await startFaultyServer({ tickMs: 100 });
    await helper.load(nodes, opcuaFlow(faulty.endpointUrl, [tag("ns=1;s=Counter", "counter", { samplingInterval: 0, queueSize: 500 })], { endpoint }));
    const rec = new Recorder();
    await waitFor(() => goodValues(rec, "counter").length >= 5, 30_000, "data");
    // keep-alive 1 s, publishing 200 ms, request timeout 3 s (flows.ts): the stated stall time.
    const stallAfterMs = 3 * 1_000 + 200 + 3_000;
    await faulty.publish(false);
    const stalledAt = Date.now();
    await waitFor(() => rec.errors.length >= 1, stallAfterMs + 20_000, "a report of the stall");
    const reportedIn = Date.now() - stalledAt;
    assert.match(rec.errors[0], /subscription stalled/);
    assert.strictEqual(rec.commLostBatches().length, 1);
    // Two more stall periods: the session is restarted again, but the outage is reported once.
    const sessionsBefore = (await faulty.stats()).requests.CreateSessionRequest ?? 0;
    await waitFor(async () => ((await faulty!.stats()).requests.CreateSessionRequest ?? 0) > sessionsBefore, 2 * stallAfterMs + 20_000, "another session restart while stalled");
    assert.strictEqual(rec.errors.length, 1, `one report for one outage: ${rec.errors.join(" | ")}`);
    assert.notStrictEqual(rec.lastStatus()?.fill, "green", "never green while stalled");
    assert.ok(!rec.statuses.slice(rec.statuses.findIndex((st) => /stalled/.test(st.text ?? ""))).some((st) => st.fill === "green"), "no green status during the stall");
    await faulty.publish(true);
    const before = goodValues(rec, "counter").length;
    await waitFor(() => goodValues(rec, "counter").length > before + 5, 30_000, "data after the stall");
    await waitFor(() => rec.lastStatus()?.fill === "green", 10_000, "green again");
    await delay(1_000);
    console.log(`      (stall reported ${reportedIn} ms after Publish stopped; stated bound ${stallAfterMs} ms + one watchdog tick)`);
    assert.ok(reportedIn < stallAfterMs + 15_000, `reported within the stated time: ${reportedIn} ms`);
    assert.strictEqual(rec.errors.length, 1);
    assert.strictEqual(rec.commLostBatches().length, 1);
    const values = goodValues(rec, "counter");
    for (let i = 1; i < values.length; i++) assert.ok(values[i] > values[i - 1], `no duplicate: ${values[i - 1]} then ${values[i]}`);
  });

  describe("a link that stays black-holed", () => {
    let server: TestServer;
    let proxy: BlackholeProxy;
    before(async () => {
      server = await startTestServer({ port: await freePort(), tickMs: 100 });
      proxy = await startBlackholeProxy(server.port);
    });
    after(async () => {
      await helper.unload();
      await proxy.close();
      await server.close();
    });

    it("reports each outage once to Catch while reconnecting, drops the session after the stated bound, and resumes when healed", async () => {
      await helper.load(nodes, opcuaFlow(`opc.tcp://127.0.0.1:${proxy.port}`, [tag("ns=1;s=Counter", "counter")], { endpoint }));
      const rec = new Recorder();
      const ep = helper.getNode("ep") as unknown as { endpoint: { conn: NodeJS.EventEmitter } };
      const states: string[] = [];
      ep.endpoint.conn.on("state", (state: string, detail?: string) => states.push(`${state}: ${detail ?? ""}`));
      await waitFor(() => goodValues(rec, "counter").length >= 3, 30_000, "data");

      for (let outage = 1; outage <= 2; outage++) {
        proxy.blackhole();
        const holedAt = Date.now();
        await waitFor(() => rec.errors.length === outage, 30_000, `a report of outage ${outage}`);
        const reportedIn = Date.now() - holedAt;
        assert.strictEqual(rec.commLostBatches().length, outage);
        if (outage === 1) {
          // Longer than the repair bound: node-opcua's endless reconnect must give way to a new session.
          await waitFor(() => states.some((s) => /did not recover within/.test(s)), SESSION_TIMEOUT_MS + 20_000, "the session dropped after the bound");
          await delay(3_000);
        } else {
          await delay(2_000);
        }
        assert.strictEqual(rec.errors.length, outage, `still one report for outage ${outage}: ${rec.errors.join(" | ")}`);
        assert.strictEqual(rec.lastStatus()?.fill, "red", "red while down");
        const before = goodValues(rec, "counter").length;
        proxy.heal();
        await waitFor(() => goodValues(rec, "counter").length > before + 2, 30_000, `data after outage ${outage}`);
        await waitFor(() => rec.lastStatus()?.fill === "green", 10_000, "green again");
        console.log(`      (outage ${outage}: reported ${reportedIn} ms after the link went silent)`);
      }
      await delay(1_000);
      assert.strictEqual(rec.errors.length, 2, `one report per outage: ${rec.errors.join(" | ")}`);
      const values = goodValues(rec, "counter");
      for (let i = 1; i < values.length; i++) assert.ok(values[i] > values[i - 1], `no duplicate: ${values[i - 1]} then ${values[i]}`);
      // The session abandoned in the first outage ends on the server at its timeout (its
      // subscription may outlive it for its lifetime, as OPC UA allows, so it is not counted).
      await waitFor(() => server.sessionCount() === 1, SESSION_TIMEOUT_MS + 10_000, `one session left (${server.sessionCount()})`);
    });
  });
});
