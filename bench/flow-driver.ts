/**
 * Drives messages through nodes loaded in one Node-RED runtime (node-red-node-test-helper) and
 * times them end to end: the same driver for the pack's node and the bare core node it is compared
 * with, so both pay the same runtime costs.
 */
import helper = require("node-red-node-test-helper");
import { nowMs } from "./harness";

let initialised = false;

export function initRuntime(): typeof helper {
  if (!initialised) {
    helper.init(require.resolve("node-red"));
    initialised = true;
  }
  return helper;
}

/** A core node's module (e.g. "function/15-change"), loadable by the helper. */
export function coreNode(rel: string): (RED: unknown) => void {
  return require(require.resolve(`@node-red/nodes/core/${rel}.js`));
}

/**
 * Sends `count` messages made by `make(i)` into node `inId` and resolves with the elapsed ms once
 * `expect` messages reached helper node `outId`. At most `window` messages are in flight, as a
 * live source would be, so the runtime's queue never grows without bound.
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
