/** otb-modbus-in's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field, type ConfigOf, type FieldCheck } from "../shared/schema";

/**
 * mapSource is a text field with `values` (the form's select), not an enum: the map file and
 * the table are judged by it, so "file" alone is not valid whatever the file field says.
 */
const member: FieldCheck = (value, _node, spec) => {
  const values = (spec.values ?? []) as readonly string[];
  return values.includes(String(value).trim()) ? null : `"${String(value)}" is not one of ${values.join(", ")}`;
};

const mapFile: FieldCheck = (value, node) =>
  String(node.mapSource ?? "").trim() !== "file" || String(value ?? "").trim() ? null : "is required when the register map comes from a file";

/** The editor's register table (rows judged in detail by register-map.ts); not used with a map file. */
const tags: FieldCheck = (value, node) => {
  if ((String(node.mapSource ?? "").trim() || "table") !== "table") return null;
  let list: unknown = value ?? [];
  if (typeof value === "string") list = value.trim() ? JSON.parse(value) : [];
  if (!Array.isArray(list)) return "must be a list";
  if (list.length === 0) return "needs at least one tag, or a register map file";
  for (let i = 0; i < list.length; i++) {
    const row = (list[i] ?? {}) as { tag?: unknown };
    if (!String(row.tag ?? "").trim()) return `row ${i + 1}: tag is required`;
  }
  return null;
};

export const schema = defineSchema({
  type: "otb-modbus-in",
  version: 1,
  fields: {
    name: field.text(),
    device: field.ref("otb-modbus-device", { required: true }),
    mapSource: field.text({ default: "table", values: ["table", "file"], check: "member", samples: { valid: ["table"], invalid: ["disk"] } }),
    /** A JSON register map (tag catalog) file, relative to userDir (or to the pack: map-source.ts). */
    mapFile: field.text({ check: "mapFile", checkBlank: true }),
    /** ms for groups without a row of their own; 0 = only on an input message. */
    periodMs: field.number(1000, { min: 0 }),
    /** [{name, periodMs}]: a group's poll period in ms, 0 = only on an input message; a row without a usable period leaves the group to the file or periodMs (map-source.ts). */
    groups: field.json([], { json: "array" }),
    tags: field.json([], {
      json: "array",
      check: "tags",
      checkBlank: true,
      samples: {
        valid: [[{ tag: "meter1.power", area: "holding", address: 0, type: "float32", scale: 1, offset: 0 }], '[{"tag":"a","address":3}]'],
        invalid: [[{ tag: "", address: 0 }], "[]"],
      },
    }),
  },
  checks: { member, mapFile, tags },
});

export type ModbusInFields = ConfigOf<typeof schema>;
