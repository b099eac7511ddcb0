/**
 * Drives messages through nodes loaded in one Node-RED runtime (node-red-node-test-helper) and
 * times them end to end: the same driver for the pack's nodes and the bare core nodes they are
 * compared with, so both pay the same runtime costs and nothing else.
 *
 * The helper wraps Node.prototype's send/status/log/warn/error/debug/trace in sinon spies (plus
 * a Proxy that schedules an event per call) on every load, for tests that assert on calls. A
 * real Node-RED has none of that, and it cost about a fifth of a pipeline run, so the runtime
 * returned here puts the original methods back as soon as a flow is loaded: what is timed is
 * Node-RED's own routing (flow.send, setImmediate delivery, clone on fan-out) and the nodes.
 */
import helper = require("node-red-node-test-helper");
import { nowMs } from "./harness";

/** The Node-RED hooks registry the runtime triggers (same module instance as the runtime's). */
interface Hooks {
  add(id: string, fn: (event: { node: { id: string } }) => void): void;
  remove(id: string): void;
}
const hooks = (require(require.resolve("@node-red/util", { paths: [require.resolve("node-red")] })) as { hooks: Hooks }).hooks;

/** The helper's internals this driver touches (not part of its typed API). */
interface HelperInternals {
  _sandbox: { restore(): void };
  _logSpy?: { restore(): void };
  _NodePrototype: { send: unknown };
}

let initialised = false;

export function initRuntime(): typeof helper {
  if (!initialised) {
    helper.init(require.resolve("node-red"));
    const load = helper.load.bind(helper) as (...args: unknown[]) => Promise<void>;
    (helper as unknown as { load: (...args: unknown[]) => Promise<void> }).load = async (...args: unknown[]): Promise<void> => {
      await load(...args);
      removeSpies((args[1] as Array<{ id: string }>) ?? []);
    };
    initialised = true;
  }
  return helper;
}

/**
 * Restores the Node prototype and the log to the runtime's own functions (sinon restore is
 * idempotent, so the helper's unload still works). Node-RED also copies Node.prototype.send onto
 * every wired node when it is built (Node.updateWires), so those copies are replaced too.
 */
function removeSpies(flow: Array<{ id: string }>): void {
  const h = helper as unknown as HelperInternals;
  h._logSpy?.restore();
  h._sandbox.restore();
  const send = h._NodePrototype.send;
  for (const def of flow) {
    const node = helper.getNode(def.id) as unknown as { send?: unknown; _wireCount?: number } | null;
    if (node && node._wireCount && Object.prototype.hasOwnProperty.call(node, "send")) node.send = send;
  }
}

/** A core node's module (e.g. "function/15-change"), loadable by the helper. */
export function coreNode(rel: string): (RED: unknown) => void {
  return require(require.resolve(`@node-red/nodes/core/${rel}.js`));
}

export interface DriveOptions {
  /** Node the messages are sent into. */
  input: string;
  /** Messages to send; `make(i)` builds the i-th. */
  count: number;
  make: (i: number) => Record<string, unknown>;
  /**
   * Node whose completion (`done()`, seen through Node-RED's onComplete hook) frees a slot of
   * the in-flight window: the last node every message passes through. No extra wire is needed,
   * so the flow under test is not changed (a second wire would make Node-RED deep-copy every
   * message).
   */
  paceOn: string;
  /** Helper node counted as the end of the run, and how many messages it must receive. */
  sink: string;
  expect: number;
  /** At most this many messages between input and `paceOn`, as a live source would be. */
  window?: number;
  /** Rejects when the run takes longer (a stalled flow must not hang the benchmark). */
  deadlineMs?: number;
}

let hookSeq = 0;

/** Sends the messages and resolves with the elapsed ms once `paceOn` completed all of them and `sink` received `expect` messages. */
export function drive(o: DriveOptions): Promise<number> {
  const input = helper.getNode(o.input);
  const sink = helper.getNode(o.sink);
  const window = o.window ?? 64;
  const hookId = `onComplete.otbBenchDrive${++hookSeq}`;
  return new Promise((resolve, reject) => {
    let sent = 0;
    let completed = 0;
    let received = 0;
    const onSink = (): void => {
      received++;
      finish();
    };
    const stop = (): void => {
      clearTimeout(timer);
      hooks.remove(hookId);
      sink.removeListener("input", onSink);
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`drive ${o.input} -> ${o.sink}: after ${o.deadlineMs ?? 600_000} ms ${sent} sent, ${completed} completed at ${o.paceOn}, ${received} of ${o.expect} at the sink`));
    }, o.deadlineMs ?? 600_000);
    const start = nowMs();
    const finish = (): void => {
      if (completed < o.count || received < o.expect) return;
      const ms = nowMs() - start;
      stop();
      resolve(ms);
    };
    const sendMore = (): void => {
      while (sent < o.count && sent - completed < window) input.receive(o.make(sent++));
    };
    hooks.add(hookId, (event) => {
      if (event.node.id !== o.paceOn) return;
      completed++;
      sendMore();
      finish();
    });
    sink.on("input", onSink);
    sendMore();
  });
}

/**
 * Sends `count` messages made by `make(i)` into node `inId` and resolves with the elapsed ms once
 * `expect` messages reached helper node `outId`. At most `window` messages are in flight.
 */
export function pump(inId: string, outId: string, count: number, make: (i: number) => Record<string, unknown>, expect = count, window = 64): Promise<number> {
  const input = helper.getNode(inId);
  const output = helper.getNode(outId);
  return new Promise((resolve) => {
    let sent = 0;
    let received = 0;
    const start = nowMs();
    const sendMore = (): void => {
      while (sent < count && sent - received < window) input.receive(make(sent++));
    };
    output.on("input", () => {
      received++;
      if (received >= expect) {
        output.removeAllListeners("input");
        resolve(nowMs() - start);
      } else if (sent < count) sendMore();
    });
    sendMore();
  });
}
