/**
 * The flow model shared by clone, lint, review and inventory: a Node-RED flow file is a JSON
 * array of node objects, each with at least `id` and `type`. This module reads one without
 * trusting it (a malformed file becomes a FlowFileError naming the file and the position), and
 * writes one in the pack's stable form so that regenerating a flow produces no diff.
 */
import * as fs from "fs";

/** One node as it appears in flow JSON; every other property is the node's own config. */
export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  name?: string;
  wires?: string[][];
  [key: string]: unknown;
}

export interface Flow {
  /** The path as the user gave it (used in every message). */
  file: string;
  nodes: FlowNode[];
  byId: Map<string, FlowNode>;
}

/** A flow file that cannot be used at all (missing, not JSON, not a node array). */
export class FlowFileError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
  }
}

/** Parses flow JSON text; `file` only names the source in errors. */
export function parseFlow(text: string, file: string): Flow {
  let data: unknown;
  try {
    data = JSON.parse(stripBom(text));
  } catch (err) {
    throw new FlowFileError(file, `not valid JSON (${(err as Error).message})`);
  }
  // Node-RED also exports {flows:[...]} from the admin API (v2); accept it, it is the same data.
  if (isObject(data) && Array.isArray(data.flows)) data = data.flows;
  if (!Array.isArray(data)) throw new FlowFileError(file, "not a Node-RED flow: expected a JSON array of nodes");
  const nodes: FlowNode[] = [];
  const byId = new Map<string, FlowNode>();
  data.forEach((item, index) => {
    if (!isObject(item) || typeof item.id !== "string" || typeof item.type !== "string") {
      throw new FlowFileError(file, `item ${index} is not a node (needs string "id" and "type")`);
    }
    const node = item as FlowNode;
    nodes.push(node);
    // The first node with an id wins; duplicates are a lint finding, not a parse error.
    if (!byId.has(node.id)) byId.set(node.id, node);
  });
  return { file, nodes, byId };
}

export function readFlow(file: string): Flow {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FlowFileError(file, code === "ENOENT" ? "file not found" : `cannot read (${code ?? (err as Error).message})`);
  }
  return parseFlow(text, file);
}

/**
 * The stable on-disk form: 4-space indentation (what the Node-RED editor's export writes),
 * node order and key order as given, one trailing newline.
 */
export function serializeFlow(nodes: readonly FlowNode[]): string {
  return `${JSON.stringify(nodes, null, 4)}\n`;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Tabs, subflow definitions and groups are containers, not processing nodes. */
export function isContainer(node: FlowNode): boolean {
  return node.type === "tab" || node.type === "subflow" || node.type === "group";
}

/** A config node has no `wires` and is not a container (Node-RED's own test in the editor import). */
export function isConfigNode(node: FlowNode): boolean {
  return !Array.isArray(node.wires) && !isContainer(node) && !("x" in node && "y" in node);
}

/** `otb-validate 'pump rules'` or `otb-validate 1a2b3c4d5e6f7a8b` when unnamed: how every sentence names a node. */
export function describeNode(node: FlowNode): string {
  const label = typeof node.name === "string" && node.name.trim() ? `'${node.name.trim()}'` : typeof node.label === "string" && node.label.trim() ? `'${node.label.trim()}'` : node.id;
  return `${node.type} ${label}`;
}
