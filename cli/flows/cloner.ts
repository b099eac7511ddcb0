/**
 * Template + line manifest -> that line's flow. Pure and deterministic: node ids are derived
 * from the line id and the template node's id, node and key order follow the template, so the
 * same inputs always give byte-identical output and regenerating a flow produces no diff.
 */
import { createHash } from "crypto";
import { configRefs } from "./config-refs";
import { fact } from "./contract-fields";
import { asData, ROW_KEYS } from "./deep-diff";
import { describeNode, isConfigNode, isObject, type Flow, type FlowNode } from "./flow-file";
import type { LineManifest, NodeOverrides } from "./manifest";

export class CloneError extends Error {}

/** 16 hex digits, like the editor's own ids: stable for (line id, template id). */
export function derivedId(lineId: string, templateId: string): string {
  return createHash("sha256").update(`otbridge-clone\u0000${lineId}\u0000${templateId}`).digest("hex").slice(0, 16);
}

/** Which template node types each manifest section may touch. */
const SECTION_TYPES: Record<"endpoints" | "tags" | "conduits" | "nodes", ReadonlySet<string> | null> = {
  endpoints: new Set(["otb-opcua-endpoint", "otb-modbus-device", "otb-mqtt-in", "mqtt-broker", "otb-mqtt-broker"]),
  tags: new Set(["otb-opcua-in", "otb-modbus-in", "otb-mqtt-in", "otb-validate", "otb-window"]),
  conduits: new Set(["otb-conduit"]),
  nodes: null,
};

export function cloneFlow(template: Flow, manifest: LineManifest): FlowNode[] {
  const nodes = template.nodes.map((n) => structuredClone(n));
  applyLine(nodes, manifest);
  for (const section of ["endpoints", "tags", "conduits", "nodes"] as const) {
    applyOverrides(nodes, manifest[section], section, SECTION_TYPES[section]);
  }
  if (manifest.model) applyModel(nodes, manifest.model);
  return remapIds(nodes, manifest.line.id);
}

function applyLine(nodes: FlowNode[], manifest: LineManifest): void {
  const { id: _id, label, ...fields } = manifest.line;
  const lines = nodes.filter((n) => n.type === "otb-line");
  const [line] = lines;
  if (lines.length !== 1 || !line) throw new CloneError(`the template must hold exactly one otb-line config node, it has ${lines.length}`);
  Object.assign(line, fields);
  const [tab] = nodes.filter((n) => n.type === "tab");
  if (label !== undefined && tab) tab.label = label;
}

function applyOverrides(nodes: FlowNode[], overrides: NodeOverrides | undefined, section: string, types: ReadonlySet<string> | null): void {
  for (const [handle, fields] of Object.entries(overrides ?? {})) {
    const target = findNode(nodes, handle, types);
    if (!target) {
      const kinds = types ? [...types].join(", ") : "node";
      throw new CloneError(`manifest ${section}: the template has no ${kinds} named "${handle}"`);
    }
    for (const [field, value] of Object.entries(fields)) {
      const current = target[field];
      const merged = merge(asData(current), value);
      // Keep the template's storage form: a table the editor keeps as JSON text stays text.
      target[field] = typeof current === "string" && asData(current) !== current ? JSON.stringify(merged) : merged;
    }
  }
}

function applyModel(nodes: FlowNode[], model: NonNullable<LineManifest["model"]>): void {
  const infers = nodes.filter((n) => n.type === "otb-infer" && (!model.node || n.name === model.node || n.id === model.node));
  if (infers.length === 0) throw new CloneError(`manifest model: the template has no otb-infer${model.node ? ` named "${model.node}"` : ""}`);
  for (const node of infers) {
    node[fact(node, "inferModel")?.[0] ?? "modelPath"] = model.file;
    const pin = fact(node, "inferSha256");
    if (pin) node[pin[0]] = model.sha256;
  }
}

/** Name first (what a manifest author sees in the editor), then id; a name must be unambiguous. */
function findNode(nodes: FlowNode[], handle: string, types: ReadonlySet<string> | null): FlowNode | undefined {
  const eligible = nodes.filter((n) => !types || types.has(n.type));
  const named = eligible.filter((n) => n.name === handle);
  if (named.length > 1) throw new CloneError(`"${handle}" names ${named.length} template nodes (${named.map(describeNode).join(", ")}); use the node id`);
  return named[0] ?? eligible.find((n) => n.id === handle);
}

/**
 * Manifest value over template value: objects merge field by field, keyed tables merge row by
 * row (a row with "$remove": true is dropped, new rows are appended), null removes a field,
 * anything else replaces.
 */
export function merge(base: unknown, over: unknown): unknown {
  if (isObject(base) && isObject(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) {
      if (v === null) delete out[k];
      else out[k] = merge(base[k], v);
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over)) {
    const key = ROW_KEYS.find((k) => base.length > 0 && [...base, ...over].every((r) => isObject(r) && typeof r[k] === "string"));
    if (!key) return over;
    const rows = base.map((r) => ({ ...(r as Record<string, unknown>) }));
    for (const row of over as Record<string, unknown>[]) {
      const at = rows.findIndex((r) => r[key] === row[key]);
      if (row.$remove === true) {
        if (at >= 0) rows.splice(at, 1);
      } else if (at >= 0) rows[at] = merge(rows[at], row) as Record<string, unknown>;
      else rows.push(row);
    }
    return rows;
  }
  return over;
}

/** Gives every node its derived id and re-points every reference (z, g, wires, links, scopes, config fields). */
function remapIds(nodes: FlowNode[], lineId: string): FlowNode[] {
  const map = new Map(nodes.map((n) => [n.id, derivedId(lineId, n.id)]));
  const configIds = new Set(nodes.filter(isConfigNode).map((n) => n.id));
  const to = (id: unknown): unknown => (typeof id === "string" && map.has(id) ? map.get(id) : id);
  return nodes.map((node) => {
    const refFields = new Set(configRefs(node).map((r) => r.field));
    const out: FlowNode = { ...node };
    for (const [k, v] of Object.entries(node)) {
      if (k === "id" || k === "z" || k === "g" || refFields.has(k)) out[k] = to(v);
      else if (k === "wires" && Array.isArray(v)) out[k] = v.map((port) => (Array.isArray(port) ? port.map(to) : port));
      else if ((k === "links" || k === "scope" || k === "nodes") && Array.isArray(v)) out[k] = v.map(to);
      // A config reference the tables above do not know still points at a config node id.
      else if (typeof v === "string" && configIds.has(v)) out[k] = to(v);
    }
    if (node.type.startsWith("subflow:")) out.type = `subflow:${String(to(node.type.slice(8)))}`;
    // A subflow definition wires its ports as {id} objects in in/out/status.
    if (node.type === "subflow") for (const k of ["in", "out", "status"]) if (k in node) out[k] = remapPorts(node[k], to);
    return out;
  });
}

function remapPorts(value: unknown, to: (id: unknown) => unknown): unknown {
  const port = (p: unknown): unknown => {
    if (!isObject(p) || !Array.isArray(p.wires)) return p;
    return { ...p, wires: p.wires.map((w) => (isObject(w) ? { ...w, id: to(w.id) } : w)) };
  };
  return Array.isArray(value) ? value.map(port) : port(value);
}
