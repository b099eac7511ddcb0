/** otb-modbus-in's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field, type ConfigOf, type FieldCheck } from "../shared/schema";

/**
 * "file" needs the map file its choice shows in the form, empty at first: the select is marked
 * too, so the user sees why. Only that conflict: the runtime names the first field in schema
 * order that is wrong, and an empty table under "table" (the default) is the table's to name.
 */
const mapSource: FieldCheck = (value, node) =>
  String(value).trim() !== "file" || String(node.mapFile ?? "").trim() ? null : "is file, so mapFile is required (a JSON register map)";

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
    mapSource: field.oneOf(["table", "file"] as const, "table", { check: "mapSource", samples: { invalid: ["disk", "File"] } }),
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
  checks: { mapSource, mapFile, tags },
});

export type ModbusInFields = ConfigOf<typeof schema>;
