/**
 * Which fields of a node hold config-node ids: for otb types, the `ref` fields of the node's
 * schema (node-defs.ts); for the core nodes an otb flow typically uses, the table below. Clone
 * uses the same list to re-point references at the cloned config nodes.
 */
import type { FlowNode } from "./flow-file";
import { editorDef } from "./node-defs";

export interface ConfigRef {
  field: string;
  type: string;
  required: boolean;
  /** A regular expression (source) for values that are the node's own setting, not an id (schema legacyValue). */
  legacyValue?: string;
}

const FALLBACK: Record<string, ConfigRef[]> = {
  "mqtt in": [{ field: "broker", type: "mqtt-broker", required: true }],
  "mqtt out": [{ field: "broker", type: "mqtt-broker", required: true }],
  "mqtt-broker": [{ field: "tls", type: "tls-config", required: false }],
  "http request": [{ field: "tls", type: "tls-config", required: false }],
  "tcp in": [{ field: "tls", type: "tls-config", required: false }],
  "tcp out": [{ field: "tls", type: "tls-config", required: false }],
  "websocket-client": [{ field: "tls", type: "tls-config", required: false }],
};

export function configRefs(node: FlowNode): ConfigRef[] {
  const def = editorDef(node.type);
  if (def) {
    const refs = Object.entries(def.defaults)
      .filter(([, f]) => typeof f.type === "string")
      .map(([field, f]) => ({ field, type: f.type as string, required: f.required === true, ...(f.legacyValue ? { legacyValue: f.legacyValue } : {}) }));
    if (refs.length > 0) return refs;
  }
  return FALLBACK[node.type] ?? [];
}
