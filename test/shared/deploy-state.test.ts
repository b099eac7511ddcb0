/**
 * Reports made before a node's flow has started wait for it in `ctx.report` (deploy-state.ts,
 * define-node.ts), with one tracker per runtime: a report from create() reaches a real Catch node
 * exactly once, on the first deploy and on each redeploy that rebuilds the node, and never again
 * for a node a deploy left alone; twelve such nodes add no flows:started listener each (Node-RED's
 * events emitter warns past 10). A node closed before its flow started says what it dropped.
 */
import * as assert from "node:assert/strict";
import { EventEmitter } from "events";
import { DeployState } from "../../nodes/shared/deploy-state";
import { defineNode } from "../../nodes/shared/define-node";
import type { NodeAPI } from "../../nodes/shared/red";
import { defineSchema, field } from "../../nodes/shared/schema";
import { waitFor } from "../helpers/peers";
import { caughtWithin, helper, tab, withCoreNodes } from "../helpers/red";

/**
 * A deploy of `type` through the runtime the helper runs, resolved once its flows have started.
 * Not helper.setFlows: it gives flows:started 300 ms, which a loaded machine does not meet.
 */
async function redeploy(flow: Array<Record<string, unknown>>, type: "full" | "nodes"): Promise<void> {
  const h = helper as unknown as { _redNodes: { setFlows(f: unknown, creds: unknown, type: string): Promise<unknown> }; _events: EventEmitter };
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`a ${type} deploy did not start its flows within 60 s`)), 60_000);
    h._events.once("flows:started", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await h._redNodes.setFlows(flow, {}, type);
  await started;
}

const EARLY = "test-early-reporter";
const earlySchema = defineSchema({ type: EARLY, version: 1, fields: { name: field.text(), word: field.text({ default: "early" }) } });

/** flows:started listeners seen by each create(), to show they do not grow with the nodes. */
let listenerCounts: number[] = [];

/** A node defined like every otb node that reports from create() and again a turn later. */
function earlyReporter(RED: NodeAPI): void {
  defineNode(RED, {
    schema: earlySchema,
    create(ctx) {
      listenerCounts.push((RED as unknown as { events: EventEmitter }).events.listenerCount("flows:started"));
      ctx.report(new Error(`${ctx.config.word} from create`));
      setImmediate(() => ctx.report(new Error(`${ctx.config.word} a turn later`)));
      return {};
    },
  });
}

function flowOf(nodes: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return tab([...nodes, { id: "catcher", type: "catch", scope: null, uncaught: false, wires: [["caught"]] }, { id: "caught", type: "helper" }]);
}

const reporter = (id: string, word = "early"): Record<string, unknown> => ({ id, type: EARLY, name: `reporter ${id}`, word, wires: [] });

/** Catch messages per reporting node id: "<id>: <message>". */
function bySource(msgs: Array<Record<string, unknown>>): string[] {
  return msgs.map((m) => {
    const error = m.error as { message: string; source?: { id?: string } };
    return `${error.source?.id}: ${error.message.replace(/^Error: /, "")}`;
  }).sort();
}

describe("reports before the flow has started (ctx.report, one tracker per runtime)", () => {
  afterEach(() => helper.unload());
  beforeEach(() => (listenerCounts = []));

  it("a report from create() and one a turn later reach a real Catch node exactly once", async () => {
    await helper.load(withCoreNodes(earlyReporter), flowOf([reporter("r1")]));
    assert.deepEqual(bySource(await caughtWithin(helper.getNode("caught"))), ["r1: early a turn later", "r1: early from create"]);
  });

  it("twelve nodes: every report once, no flows:started listener per node, no MaxListeners warning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    try {
      const ids = Array.from({ length: 12 }, (_, i) => `r${i + 1}`);
      await helper.load(withCoreNodes(earlyReporter), flowOf(ids.map((id) => reporter(id))));
      const seen = bySource(await caughtWithin(helper.getNode("caught")));
      assert.deepEqual(seen.slice(), ids.flatMap((id) => [`${id}: early a turn later`, `${id}: early from create`]).sort());
      assert.equal(listenerCounts.length, 12);
      assert.equal(Math.max(...listenerCounts), listenerCounts[0], `listeners grew with the nodes: ${listenerCounts.join(",")}`);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings.filter((w) => /MaxListeners/.test(w)), []);
    } finally {
      process.removeListener("warning", onWarning);
    }
  });

  it("redeploys: a rebuilt node reports once more, a node the deploy left alone does not", async () => {
    await helper.load(withCoreNodes(earlyReporter), flowOf([reporter("kept"), reporter("changed")]));
    const first = await caughtWithin(helper.getNode("caught"));
    assert.equal(first.length, 4);
    // Modified nodes only: "changed" is rebuilt, "kept" keeps running.
    await redeploy(flowOf([reporter("kept"), reporter("changed", "second")]), "nodes");
    assert.deepEqual(bySource(await caughtWithin(helper.getNode("caught"))), ["changed: second a turn later", "changed: second from create"]);
    // A full deploy rebuilds every node (flows:stopped, then flows:started again).
    await redeploy(flowOf([reporter("kept"), reporter("changed", "third")]), "full");
    assert.deepEqual(bySource(await caughtWithin(helper.getNode("caught"))), [
      "changed: third a turn later", "changed: third from create", "kept: early a turn later", "kept: early from create",
    ]);
  });

  it("a configuration error found at deploy reaches Catch once after a modified-nodes redeploy", async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const windowNode = require("../../nodes/otb-window/otb-window");
    await helper.load(withCoreNodes([windowNode]), flowOf([{ id: "w", type: "otb-window", windowName: "w1", features: [{ tag: "a", agg: "mean" }], wires: [[]] }]));
    assert.deepEqual(await caughtWithin(helper.getNode("caught"), 500), []);
    await redeploy(flowOf([{ id: "w", type: "otb-window", windowName: "a/b", features: [{ tag: "a", agg: "mean" }], wires: [[]] }]), "nodes");
    const seen = bySource(await caughtWithin(helper.getNode("caught")));
    assert.equal(seen.length, 1, seen.join(" | "));
    assert.match(seen[0]!, /^w: (ConfigError: )?windowName\b/);
  });
});

describe("DeployState", () => {
  const runtime = (): { events: EventEmitter; state: DeployState } => {
    const events = new EventEmitter();
    return { events, state: DeployState.of({ events } as unknown as NodeAPI) };
  };

  it("holds while a deploy starts, runs at once while the flows run, holds again on a redeploy", () => {
    const { events, state } = runtime();
    const seen: string[] = [];
    events.emit("flows:starting");
    const a = state.hold();
    a.run(() => seen.push("a early"));
    assert.deepEqual(seen.slice(), []);
    events.emit("flows:started");
    assert.deepEqual(seen.slice(), ["a early"]);
    a.run(() => seen.push("a running"));
    assert.deepEqual(seen.slice(), ["a early", "a running"]);
    events.emit("flows:stopping");
    events.emit("flows:stopped");
    events.emit("flows:starting");
    const b = state.hold();
    b.run(() => seen.push("b early"));
    a.run(() => seen.push("a still open"));
    assert.deepEqual(seen.slice(2), ["a still open"]);
    events.emit("flows:started");
    assert.deepEqual(seen.slice(3), ["b early"]);
  });

  it("one tracker per runtime: one listener per event whatever the number of holds", () => {
    const { events } = runtime();
    const red = { events } as unknown as NodeAPI;
    events.emit("flows:starting");
    for (let i = 0; i < 50; i++) DeployState.of(red).hold().run(() => undefined);
    assert.equal(events.listenerCount("flows:started"), 1);
    assert.equal(events.listenerCount("flows:starting"), 1);
  });

  it("a hold closed before the flows start drops what it held and names why; later runs go at once", () => {
    const { events, state } = runtime();
    events.emit("flows:starting");
    const hold = state.hold();
    const seen: string[] = [];
    hold.run(() => seen.push("x"), new Error("model refused"));
    hold.run(() => seen.push("y"), "file unreadable");
    assert.deepEqual(hold.close(), ["model refused", "file unreadable"]);
    events.emit("flows:started");
    assert.deepEqual(seen.slice(), []);
    hold.run(() => seen.push("after close"));
    assert.deepEqual(seen.slice(), ["after close"]);
  });

  it("without a deploy seen, waits for the next flows:started or the bound; without events, a turn", async () => {
    const { events, state } = runtime();
    const seen: string[] = [];
    state.hold(60_000).run(() => seen.push("started"));
    state.hold(10).run(() => seen.push("bound"));
    await waitFor(() => seen.includes("bound"), 10_000);
    assert.deepEqual(seen.slice(), ["bound"]);
    events.emit("flows:started");
    assert.deepEqual(seen.slice(), ["bound", "started"]);
    const bare = DeployState.of({} as NodeAPI).hold();
    bare.run(() => seen.push("no events"));
    assert.equal(seen.slice().length, 2);
    await waitFor(() => seen.includes("no events"), 10_000);
  });
});

describe("defineNode: a node closed before its flow started", () => {
  it("drops its held reports and logs how many and why, once", async () => {
    const events = new EventEmitter();
    const warns: string[] = [];
    const errors: unknown[] = [];
    let ctor: ((this: unknown, def: unknown) => void) | null = null;
    const RED = {
      events,
      settings: {},
      nodes: {
        registerType: (_type: string, c: (this: unknown, def: unknown) => void) => (ctor = c),
        getNode: () => null,
        createNode(node: Record<string, unknown>, def: { id: string }) {
          const emitter = new EventEmitter();
          Object.assign(node, {
            id: def.id,
            on: emitter.on.bind(emitter),
            emit: emitter.emit.bind(emitter),
            status: () => undefined,
            warn: (m: string) => warns.push(m),
            error: (err: unknown, msg: unknown) => errors.push([err, msg]),
          });
        },
      },
    } as unknown as NodeAPI;
    earlyReporter(RED);
    events.emit("flows:starting");
    const node = {} as { emit(event: string, ...args: unknown[]): void };
    ctor!.call(node, { id: "n1", type: EARLY, word: "lost" });
    await new Promise((r) => setImmediate(r));
    await new Promise<void>((resolve) => node.emit("close", false, resolve));
    events.emit("flows:started");
    assert.deepEqual(errors, []);
    assert.equal(warns.length, 1, warns.join(" | "));
    assert.match(warns[0]!, /^closed before its flow started: 2 report\(s\) not sent to Catch: lost from create; lost a turn later$/);
  });
});
