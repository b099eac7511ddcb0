/**
 * Every otb node's schema (nodes/<type>/schema.ts) and the runtime's own parser of a saved node,
 * as lint runs them: the field checks the editor runs, then, when no field waits for a ${VAR},
 * the parser the node runs at deploy (issue 16: one definition, no second copy in lint).
 * Parsers listed here are pure: no files, no network. Contract rules (zones, TLS, model pins,
 * secrets) live in their own rules.
 *
 * LEGACY_CHECKS: per-type checks of nodes whose config has no schema module yet.
 */
import type { FlowNode } from "./flow-file";

import type { NodeSchema } from "../../nodes/shared/schema/field-spec";
import { schema as lineSchema } from "../../nodes/otb-line/schema";
import { parseLineConfig } from "../../nodes/otb-line/line-config";
import { schema as windowSchema } from "../../nodes/otb-window/schema";
import { parseWindowConfig } from "../../nodes/otb-window/window-config";
import { schema as inferSchema } from "../../nodes/otb-infer/schema";
import { parseInferConfig } from "../../nodes/otb-infer/infer-config";
import { schema as conduitSchema } from "../../nodes/otb-conduit/schema";
import { checkConduitPolicy } from "../../nodes/otb-conduit/conduit-config";

export interface SchemaEntry {
  schema: NodeSchema;
  /** The node's runtime parser of a saved node: throws a ConfigError naming the field. */
  parse?: (def: Record<string, unknown>) => unknown;
}

export const SCHEMAS: Record<string, SchemaEntry> = {
  "otb-line": { schema: lineSchema, parse: parseLineConfig },
  "otb-infer": { schema: inferSchema, parse: (def) => parseInferConfig(def, ".") },
  "otb-window": { schema: windowSchema, parse: (def) => parseWindowConfig(def, String(def.cardPath ?? "").trim() ? [] : undefined) },
  "otb-conduit": { schema: conduitSchema, parse: checkConduitPolicy },
};

const WHOLE_ENV = /^\$\{[^}]+\}$/;

/** What the runtime parser says about a saved node, unless a field's value is only known at deploy. */
export function parserProblems(type: string, node: FlowNode): string[] {
  const entry = SCHEMAS[type];
  if (!entry?.parse) return [];
  if (Object.values(node).some((v) => typeof v === "string" && WHOLE_ENV.test(v.trim()))) return [];
  try {
    entry.parse(node);
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

export type LegacyCheck = (node: FlowNode) => string[];

/** Parses a field that the editor may store either as JSON text or as a value. */
function jsonField(node: FlowNode, field: string): { value: unknown; error?: string } {
  const raw = node[field];
  if (typeof raw !== "string") return { value: raw };
  const text = raw.trim();
  if (!text.startsWith("[") && !text.startsWith("{")) return { value: raw };
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { value: undefined, error: `"${field}" is not valid JSON (${(err as Error).message})` };
  }
}

export const LEGACY_CHECKS: Record<string, LegacyCheck> = {
  // Tag lists, register maps and rule sets may be stored as JSON text in the form.
  "otb-opcua-in": (node) => jsonFields(node, ["tags", "items", "nodes"]),
  "otb-modbus-in": (node) => jsonFields(node, ["registers", "map", "registerMap"]),
  "otb-validate": (node) => jsonFields(node, ["rules", "tags"]),
};

function jsonFields(node: FlowNode, fields: string[]): string[] {
  return fields.map((f) => jsonField(node, f).error).filter((e): e is string => e !== undefined);
}
