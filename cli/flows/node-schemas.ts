/**
 * Per-type config checks that go beyond what the editor's `defaults` validators express: one
 * small function per otb type, each returning problems as sentences. Extend a type's entry as
 * its fields settle; a type without an entry is checked by its editor defaults alone.
 * Contract rules (zones, TLS, model pins, secrets) live in their own rules, not here.
 */
import { ShiftCalendar, type ShiftDef } from "../../nodes/shared/shift-calendar";
import type { FlowNode } from "./flow-file";
import { fact, FIELD_CANDIDATES } from "./contract-fields";

export type NodeSchema = (node: FlowNode) => string[];

const BROKER_SCHEMES = /^(mqtt|mqtts|ws|wss):\/\//i;
const ENV_REF = /^\$\{[^}]+\}$/;
const TOPIC_LEVEL = /^(?!\$)[^/+#\u0000]+$/;

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

export const NODE_SCHEMAS: Record<string, NodeSchema> = {
  // Identity fields as otb-line's parseLineConfig checks them, and the shift calendar built by
  // the runtime's own ShiftCalendar (imported directly: the shared index would compile every
  // message schema, a cost a pre-commit hook should not pay).
  "otb-line": (node) => {
    const problems: string[] = [];
    for (const field of ["enterprise", "site", "area", "line"]) {
      const value = String(node[field] ?? "").trim();
      if (!value) problems.push(`${field} is required`);
      else if (!ENV_REF.test(value) && !TOPIC_LEVEL.test(value)) problems.push(`${field} "${value}" cannot be a topic level (no / + # or leading $)`);
    }
    const { value: shifts, error } = jsonField(node, "shifts");
    if (error) return [...problems, error];
    try {
      // A ${TZ_VAR} time zone is only known at deploy; the shifts are still checked (in UTC).
      new ShiftCalendar(ENV_REF.test(String(node.timeZone ?? "")) ? "UTC" : String(node.timeZone || "UTC"), (Array.isArray(shifts) ? shifts : []) as ShiftDef[]);
    } catch (err) {
      problems.push((err as Error).message);
    }
    return problems;
  },

  "otb-conduit": (node) => {
    const problems: string[] = [];
    const broker = fact(node, "conduitBroker");
    if (!broker) problems.push(`no broker URL (one of ${FIELD_CANDIDATES.conduitBroker.join(", ")})`);
    else if (typeof broker[1] === "string" && !ENV_REF.test(broker[1]) && !BROKER_SCHEMES.test(broker[1])) {
      problems.push(`broker "${broker[1]}" must be an mqtt://, mqtts://, ws:// or wss:// URL`);
    }
    for (const field of FIELD_CANDIDATES.conduitAllowlist) {
      if (node[field] === undefined) continue;
      const { value, error } = jsonField(node, field);
      if (error) problems.push(error);
      const patterns = Array.isArray(value) ? value : typeof value === "string" ? value.split(/[\n,]/) : [];
      for (const p of patterns.map((x) => (typeof x === "string" ? x : String((x as { topic?: unknown })?.topic ?? "")).trim()).filter(Boolean)) {
        if (ENV_REF.test(p)) continue; // a whole ${ENV_VAR}, as the editor accepts it
        if (p.startsWith("$")) problems.push(`allowlist pattern "${p}" targets a $ system topic`);
        if (/#./.test(p) || /[^/]#|[^/]\+|\+[^/]/.test(p)) problems.push(`allowlist pattern "${p}" is not a valid MQTT topic filter`);
      }
      break;
    }
    return problems;
  },

  // Tag lists, register maps and rule sets may be stored as JSON text in the form.
  "otb-opcua-in": (node) => jsonFields(node, ["tags", "items", "nodes"]),
  "otb-modbus-in": (node) => jsonFields(node, ["registers", "map", "registerMap"]),
  "otb-validate": (node) => jsonFields(node, ["rules", "tags"]),
  "otb-window": (node) => jsonFields(node, ["features"]),
};

function jsonFields(node: FlowNode, fields: string[]): string[] {
  return fields.map((f) => jsonField(node, f).error).filter((e): e is string => e !== undefined);
}
