/**
 * The structured difference between two versions of a flow: nodes added and removed, config
 * fields changed, outputs rewired, and nodes that only moved in the editor. Nodes are matched
 * by id; a node re-imported under a new id (same type, name and tab) is still the same node.
 */
import { diffValues, deepEqual, type Change } from "./deep-diff";
import { isConfigNode, type Flow, type FlowNode } from "./flow-file";

/** Editor geometry: changing it changes nothing at runtime. */
export const LAYOUT_FIELDS = new Set(["x", "y", "w", "h", "l", "g"]);
const IGNORED_FIELDS = new Set(["id", "wires"]);

export interface Rewire {
  port: number;
  before: string[];
  after: string[];
}

export interface NodeChange {
  before: FlowNode;
  after: FlowNode;
  /** Config changes: every field except layout, wires and id. */
  fields: Change[];
  rewired: Rewire[];
  moved: boolean;
  /** The id changed but type, name and tab identify the node. */
  newId: boolean;
}

export interface FlowDiff {
  before: Flow;
  after: Flow;
  added: FlowNode[];
  removed: FlowNode[];
  changed: NodeChange[];
}

export function diffFlows(before: Flow, after: Flow): FlowDiff {
  const added: FlowNode[] = [];
  const removed: FlowNode[] = [];
  const pairs: Array<[FlowNode, FlowNode, boolean]> = [];
  for (const node of after.nodes) {
    const old = before.byId.get(node.id);
    if (old && old.type === node.type) pairs.push([old, node, false]);
    else added.push(node);
  }
  for (const node of before.nodes) {
    const now = after.byId.get(node.id);
    if (!now || now.type !== node.type) removed.push(node);
  }
  // Re-imported nodes: pair a removed and an added node with the same type and name, on the
  // same tab first, then anywhere (a cloned line renames its tab), then config nodes by type
  // alone (a renamed line or broker), whenever the match is unique.
  for (const level of ["tab", "name", "type"] as const) {
    for (const old of [...removed]) {
      const identity = identityOf(before, old, level);
      if (!identity) continue;
      const matches = added.filter((n) => identityOf(after, n, level) === identity);
      const olds = removed.filter((n) => identityOf(before, n, level) === identity);
      const [match] = matches;
      if (match && matches.length === 1 && olds.length === 1) {
        pairs.push([old, match, true]);
        removed.splice(removed.indexOf(old), 1);
        added.splice(added.indexOf(match), 1);
      }
    }
  }
  // References (z, wires, config fields) compare through the pairing: a re-imported tab or
  // conduit is the same target under a new id.
  const idMap = new Map(pairs.map(([b, a]) => [b.id, a.id] as const));
  const changed: NodeChange[] = [];
  for (const [b, a, newId] of pairs) {
    const change = diffNode(idMap, b, a, newId);
    if (change.fields.length > 0 || change.rewired.length > 0 || change.moved || newId) changed.push(change);
  }
  return { before, after, added, removed, changed };
}

function diffNode(idMap: Map<string, string>, b: FlowNode, a: FlowNode, newId: boolean): NodeChange {
  const config = (n: FlowNode, map: boolean): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(n)) {
      if (LAYOUT_FIELDS.has(k) || IGNORED_FIELDS.has(k)) continue;
      const to = (x: unknown): unknown => (typeof x === "string" && idMap.has(x) ? idMap.get(x) : x);
      // Id lists too: link targets, catch/status scopes, group members.
      out[k] = !map ? v : Array.isArray(v) && v.every((x) => typeof x === "string") ? v.map(to) : to(v);
    }
    return out;
  };
  const fields = diffValues(config(b, true), config(a, false));
  const moved = [...LAYOUT_FIELDS].some((k) => !deepEqual(k === "g" && typeof b.g === "string" ? (idMap.get(b.g) ?? b.g) : b[k], a[k]));
  const rewired: Rewire[] = [];
  const bw = Array.isArray(b.wires) ? b.wires : [];
  const aw = Array.isArray(a.wires) ? a.wires : [];
  for (let port = 0; port < Math.max(bw.length, aw.length); port++) {
    const before = (bw[port] ?? []).map((id) => idMap.get(id) ?? id);
    const after = aw[port] ?? [];
    if (!deepEqual([...before].sort(), [...after].sort())) rewired.push({ port, before: bw[port] ?? [], after });
  }
  return { before: b, after: a, fields, rewired, moved, newId };
}

function identityOf(flow: Flow, node: FlowNode, level: "tab" | "name" | "type"): string | null {
  // Only config nodes pair by type alone: a flow node with another name is another node.
  if (level === "type") return isConfigNode(node) ? node.type : null;
  const name = node.type === "tab" ? "(tab)" : node.name;
  if (typeof name !== "string" || !name) return null;
  return `${node.type}\u0000${name}\u0000${level === "tab" && typeof node.z === "string" ? tabName(flow, node.z) : ""}`;
}

function tabName(flow: Flow, id: string): string {
  const tab = flow.byId.get(id);
  return tab && typeof tab.label === "string" && tab.label ? tab.label : typeof tab?.name === "string" && tab.name ? tab.name : id;
}
