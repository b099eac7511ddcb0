/**
 * A FlowDiff as the Markdown a reviewer reads in a pull request: zone and conduit changes
 * first (they are what the security review signs off), then nodes added and removed, config
 * changes with old and new values, rewiring, and layout-only moves in one line. Secret-looking
 * values are never printed.
 */
import { configRefs } from "./config-refs";
import { fact } from "./contract-fields";
import { renderPath, showValue, type Change } from "./deep-diff";
import { describeNode, isConfigNode, type Flow, type FlowNode } from "./flow-file";
import { secretInText } from "./secrets";
import type { FlowDiff, NodeChange } from "./flow-diff";

const SECRET_FIELD = /pass|secret|token|api_?key|private|credential/i;
/** Node types whose changes move data across zones. */
const ZONE_TYPES = new Set(["otb-conduit", "otb-publish", "mqtt out", "mqtt-broker", "http request", "websocket out", "tcp out", "udp out", "tls-config"]);

export interface ReviewSections {
  zones: string[];
  addedRemoved: string[];
  config: string[];
  wiring: string[];
  layout: string[];
}

export function reviewSentences(diff: FlowDiff): ReviewSections {
  const s: ReviewSections = { zones: [], addedRemoved: [], config: [], wiring: [], layout: [] };
  for (const node of diff.added) {
    const line = `Added ${describeNode(node)}${where(diff.after, node)}.`;
    (ZONE_TYPES.has(node.type) ? s.zones : s.addedRemoved).push(ZONE_TYPES.has(node.type) ? `${line}${zoneNote(node)}` : line);
  }
  for (const node of diff.removed) {
    const line = `Removed ${describeNode(node)}${where(diff.before, node)}.`;
    (ZONE_TYPES.has(node.type) ? s.zones : s.addedRemoved).push(line);
  }
  let moved = 0;
  const renamed = diff.changed.filter((c) => c.newId);
  const [only] = renamed;
  if (renamed.length === 1 && only) s.config.push(`${describeNode(only.after)} has a new id ${only.after.id} (was ${only.before.id}); matched by type and name.`);
  else if (renamed.length > 1) s.config.push(`${renamed.length} nodes have new ids (re-imported or cloned); they are matched by type and name.`);
  for (const c of diff.changed) {
    const who = describeNode(c.after);
    const bucket = ZONE_TYPES.has(c.after.type) ? s.zones : s.config;
    for (const f of c.fields) bucket.push(`${who}: ${fieldSentence(diff, c, f)}`);
    for (const r of c.rewired) s.wiring.push(rewireSentence(diff, c, r.port, r.before, r.after));
    if (c.moved) moved++;
  }
  if (moved > 0) s.layout.push(`${moved} node${moved === 1 ? "" : "s"} moved or resized in the editor (layout only, no change in behaviour).`);
  return s;
}

export function reviewMarkdown(title: string, diff: FlowDiff): string {
  const s = reviewSentences(diff);
  const out = [`### ${title}`, ""];
  const section = (heading: string, lines: string[]): void => {
    if (lines.length === 0) return;
    out.push(`**${heading}**`, "", ...lines.map((l) => `- ${l}`), "");
  };
  section("Zones and conduits (security review)", s.zones);
  section("Nodes added and removed", s.addedRemoved);
  section("Configuration", s.config);
  section("Wiring", s.wiring);
  section("Layout", s.layout);
  if (out.length === 2) out.push("No changes.", "");
  return out.join("\n");
}

function where(flow: Flow, node: FlowNode): string {
  if (isConfigNode(node) || typeof node.z !== "string") return isConfigNode(node) ? " (config node)" : "";
  const tab = flow.byId.get(node.z);
  return tab ? ` on flow '${String(tab.label ?? tab.name ?? tab.id)}'` : "";
}

function zoneNote(node: FlowNode): string {
  if (node.type !== "otb-conduit") return "";
  const from = fact(node, "conduitSourceZone")?.[1];
  const to = fact(node, "conduitTargetZone")?.[1];
  return from || to ? ` It carries data from ${String(from ?? "?")} to ${String(to ?? "?")}.` : "";
}

function fieldSentence(diff: FlowDiff, c: NodeChange, f: Change): string {
  const path = renderPath(f.path) || "value";
  const top = f.path[0] && "field" in f.path[0] ? f.path[0].field : "";
  const secretish = (v: unknown): boolean => secretInText(JSON.stringify(v ?? null)) !== null;
  if (SECRET_FIELD.test(path) || secretish(f.before) || secretish(f.after)) return `${path} changed (value not shown)`;
  // Ids in a before-value were already mapped onto their after-version where the node was kept.
  const lookup = (v: unknown): FlowNode | undefined => (typeof v === "string" ? (diff.after.byId.get(v) ?? diff.before.byId.get(v)) : undefined);
  if (top === "z") return `moved to flow '${tabLabel(lookup(f.after), f.after)}' (was '${tabLabel(lookup(f.before), f.before)}')`;
  const ref = configRefs(c.after).find((r) => r.field === top && f.path.length === 1);
  const show = (v: unknown): string => {
    const target = ref ? lookup(v) : undefined;
    return target ? describeNode(target) : showValue(v);
  };
  const lastSeg = f.path[f.path.length - 1];
  const isRow = lastSeg !== undefined && "row" in lastSeg;
  if (f.kind === "added") return isRow ? `${path} added` : `${path} added: ${show(f.after)}`;
  if (f.kind === "removed") return isRow ? `${path} removed` : `${path} removed (was ${show(f.before)})`;
  if (Array.isArray(f.before) && Array.isArray(f.after)) {
    // Lists of names and topics: say which entries came and went.
    const before: unknown[] = f.before;
    const after: unknown[] = f.after;
    const gone = before.filter((v) => !after.includes(v)).map((v) => showValue(v));
    const come = after.filter((v) => !before.includes(v)).map((v) => showValue(v));
    const parts = [gone.length ? `removed ${gone.join(", ")}` : "", come.length ? `added ${come.join(", ")}` : ""].filter(Boolean);
    return `${path}: ${parts.join("; ") || "reordered"}`;
  }
  return `${path} ${show(f.before)} -> ${show(f.after)}`;
}

function tabLabel(tab: FlowNode | undefined, id: unknown): string {
  return String(tab?.label ?? tab?.name ?? id);
}

function rewireSentence(diff: FlowDiff, c: NodeChange, port: number, before: string[], after: string[]): string {
  const name = (flow: Flow, id: string): string => {
    const n = flow.byId.get(id) ?? diff.after.byId.get(id);
    return n ? describeNode(n) : `missing node ${id}`;
  };
  const list = (flow: Flow, ids: string[]): string => (ids.length === 0 ? "nothing" : ids.map((id) => name(flow, id)).join(", "));
  return `${describeNode(c.after)} output ${port + 1} now goes to ${list(diff.after, after)} (was ${list(diff.before, before)}).`;
}
