/** otb-opcua-in's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field, type ConfigOf, type FieldCheck } from "../shared/schema";

/**
 * The editor's tag table: unique, non-empty tag names and node ids; none needed when a tag
 * catalog file replaces the table. Row details (sampling, deadband) are judged by tag-list.ts.
 */
const tags: FieldCheck = (value, node) => {
  if (String(node.catalogPath ?? "").trim()) return null;
  let list: unknown = value ?? [];
  if (typeof value === "string") list = value.trim() ? JSON.parse(value) : [];
  if (!Array.isArray(list)) return "must be a list";
  if (list.length === 0) return "needs at least one tag (node id and tag name), or a tag catalog file";
  const seen: Record<string, boolean> = {};
  for (let i = 0; i < list.length; i++) {
    const row = (list[i] ?? {}) as { nodeId?: unknown; tag?: unknown };
    const tag = String(row.tag ?? "").trim();
    if (!String(row.nodeId ?? "").trim() || !tag) return `row ${i + 1} needs a node id and a tag name`;
    if (seen[tag]) return `tag "${tag}" appears twice; tag names must be unique within a node`;
    seen[tag] = true;
  }
  return null;
};

export const schema = defineSchema({
  type: "otb-opcua-in",
  version: 1,
  fields: {
    name: field.text(),
    endpoint: field.ref("otb-opcua-endpoint", { required: true }),
    /** ms; brought into 50..3600000 at deploy as it always was (the editor never bounded it). */
    publishingInterval: field.number(1000, { required: true }),
    /** A tag catalog JSON file (relative to userDir) that replaces the table. */
    catalogPath: field.text(),
    tags: field.json([], {
      json: "array",
      check: "tags",
      checkBlank: true,
      samples: {
        valid: [[{ nodeId: "ns=2;s=Line1.Temp", tag: "oven.temperature", samplingInterval: 1000, deadbandType: "none", deadband: 0, queueSize: 10, unit: "" }], '[{"nodeId":"i=2258","tag":"clock"}]'],
        invalid: [[{ nodeId: "", tag: "a" }], [{ nodeId: "i=1", tag: "a" }, { nodeId: "i=2", tag: "a" }], "[]"],
      },
    }),
  },
  checks: { tags },
});

export type OpcuaInFields = ConfigOf<typeof schema>;
