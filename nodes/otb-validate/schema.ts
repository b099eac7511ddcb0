/** otb-validate's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field, type FieldCheck } from "../shared/schema";

/**
 * The rule table's rows name their tags (a topic level each, listed once); catalog.ts checks the
 * rest of a rule (bands, types, detectors) at deploy and in lint. Not read when rules come from a file.
 */
const rules: FieldCheck = (value, node) => {
  if (node.rulesFrom === "file") return null;
  const list = typeof value === "string" ? JSON.parse(value) : value;
  if (!Array.isArray(list)) return "must be a list";
  const seen: Record<string, boolean> = {};
  for (let i = 0; i < list.length; i++) {
    const tag = (list[i] as { tag?: unknown } | null)?.tag;
    if (typeof tag !== "string" || !/^(?!\$)[^/+#\u0000]+$/.test(tag)) return `row ${i + 1}: the tag ${JSON.stringify(tag ?? "")} cannot be a topic level (no / + # or leading $)`;
    if (seen[tag]) return `row ${i + 1}: tag ${tag} is listed twice`;
    seen[tag] = true;
  }
  return null;
};

/** Rules from a file need the file's name (reported here too, so the runtime names the field the editor marks). */
const rulesFromNeeds: FieldCheck = (value, node) =>
  value === "file" && (node.catalogFile === undefined || node.catalogFile === null || String(node.catalogFile).trim() === "") ? `"file" needs catalogFile (the tag catalog to read)` : null;

const fileForRules: FieldCheck = (value, node) =>
  node.rulesFrom === "file" && (value === undefined || value === null || String(value).trim() === "") ? "is required when rules come from a file" : null;

export const schema = defineSchema({
  type: "otb-validate",
  version: 1,
  fields: {
    name: field.text(),
    rulesFrom: field.oneOf(["table", "file"] as const, "table", { check: "rulesFromNeeds" }),
    /** [{tag, type, unit, staleMs, range, maxRatePerSec, flatline, spike, drift}], the catalog's rule shape. */
    rules: field.json([], { json: "array", check: "rules", samples: { valid: [[{ tag: "p", type: "number", range: { badBelow: 0 } }]], invalid: [[{ tag: "a/b" }], [{ tag: "p" }, { tag: "p" }], [{ type: "number" }]] } }),
    /** A tag catalog JSON file, relative to the Node-RED user directory (rulesFrom "file"). */
    catalogFile: field.text({ check: "fileForRules", checkBlank: true, samples: { valid: ["catalog.json"] } }),
    unknownTags: field.oneOf(["pass", "uncertain", "bad"] as const, "pass"),
    maxStringLength: field.number(1024, { min: 1, max: 16 * 1024 * 1024, integer: true }),
    /** Seconds between quality summaries on output 3; 0 sends none. */
    summaryInterval: field.number(60, { min: 0, max: 86_400 }),
    /** The status turns yellow when the recent good share falls below this percentage. */
    warnBelowPct: field.number(95, { min: 0, max: 100, samples: { invalid: [101] } }),
  },
  checks: { rules, rulesFromNeeds, fileForRules },
});
