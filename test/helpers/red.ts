/** node-red-node-test-helper set up once for the whole suite, plus small flow builders. */
import helper = require("node-red-node-test-helper");

helper.init(require.resolve("node-red"));

export { helper };

/**
 * A tab plus nodes scoped to it, so Catch, Status and Complete nodes work in test flows.
 * Give nodes ids that are not also a node type or another node's property value ("catcher", not
 * "catch"): Node-RED treats any property equal to a config node's id as a use of it, and then
 * reports "Circular config node dependency detected".
 */
export function tab(nodes: Array<Record<string, unknown>>, id = "flow"): Array<Record<string, unknown>> {
  return [{ id, type: "tab", label: "test" }, ...nodes.map((n) => (n.z === undefined && !isConfig(n) ? { ...n, z: id } : n))];
}

function isConfig(n: Record<string, unknown>): boolean {
  return !("wires" in n) && n.type !== "helper" && n.type !== "catch" && n.type !== "status" && n.type !== "complete";
}

/** Resolves with the next message a helper node receives. */
export function nextMessage(node: import("node-red").Node, timeoutMs = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no message on ${node.id} within ${timeoutMs} ms`)), timeoutMs);
    node.once("input", (msg: Record<string, unknown>) => {
      clearTimeout(t);
      resolve(msg);
    });
  });
}

/** Core Catch, Status and Complete nodes: load them beside the node under test to assert routing. */
export const catchStatusComplete = ["common/25-catch", "common/25-status", "common/24-complete"].map(
  (rel) => require(require.resolve(`@node-red/nodes/core/${rel}.js`)) as (RED: unknown) => void,
);

/** The node(s) under test plus Catch, Status and Complete. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function withCoreNodes(nodes: ((RED: any) => void) | Array<(RED: any) => void>): Array<(RED: any) => void> {
  return [...(Array.isArray(nodes) ? nodes : [nodes]), ...catchStatusComplete];
}

/**
 * The messages a helper node wired to a Catch node receives until `quietMs` pass without a new
 * one (at least one is awaited up to `firstWithinMs`): asserts "reported once", not "at least once".
 */
export async function caughtWithin(node: import("node-red").Node, firstWithinMs = 10_000, quietMs = 300): Promise<Array<Record<string, unknown>>> {
  const seen: Array<Record<string, unknown>> = [];
  let last = Date.now();
  node.on("input", (msg: Record<string, unknown>) => {
    seen.push(msg);
    last = Date.now();
  });
  const start = Date.now();
  while (seen.length === 0 ? Date.now() - start < firstWithinMs : Date.now() - last < quietMs) await new Promise((r) => setTimeout(r, 20));
  return seen;
}
