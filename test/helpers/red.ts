/** node-red-node-test-helper set up once for the whole suite, plus small flow builders. */
import helper = require("node-red-node-test-helper");

helper.init(require.resolve("node-red"));

export { helper };

/** A tab plus nodes scoped to it, so Catch, Status and Complete nodes work in test flows. */
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
