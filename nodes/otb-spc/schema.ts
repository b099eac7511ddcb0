/** otb-spc's configuration: the one definition editor, runtime and lint read (issue 16). */
import { CHART_TYPES } from "../shared/outcomes/spc-chart";
import { ALL_RULES } from "../shared/outcomes/spc-rules";
import { defineSchema, field, type FieldCheck } from "../shared/schema";

/** A source needs its file or its tag (reported on the select too, so the runtime names what the editor marks). */
const sourceNeeds: FieldCheck = (value, node) => {
  const blank = (v: unknown): boolean => v === undefined || v === null || String(v).trim() === "";
  if (value === "file" && blank(node.catalogFile)) return `"file" needs catalogFile (the characteristics catalog to read)`;
  if (value === "form" && blank(node.tag)) return `"form" needs a tag (the characteristic's tag)`;
  return null;
};

const fileForSource: FieldCheck = (value, node) =>
  node.source === "file" && (value === undefined || value === null || String(value).trim() === "") ? "is required when characteristics come from a file" : null;

/** The form's one characteristic needs a tag (a catalog file names its own). */
const formTag: FieldCheck = (value, node) => (node.source !== "file" && String(value ?? "").trim() === "" ? "is required for a characteristic from this form" : null);

/** X-bar charts need a whole subgroup of 2..25 (the control chart constants' table); p, np, u a sample above 0. */
const subgroup: FieldCheck = (value, node) => {
  if (node.source === "file") return null;
  const n = Number(value);
  const chart = String(node.chart ?? "imr");
  if ((chart === "xbar-r" || chart === "xbar-s") && !(Number.isInteger(n) && n >= 2 && n <= 25)) return `must be a whole number 2..25 for ${chart} (got ${String(value)})`;
  if ((chart === "p" || chart === "np" || chart === "u") && !(n > 0)) return `must be above 0 for a ${chart} chart (got ${String(value)})`;
  return null;
};

/** Rule names, comma-separated, from the schema's list. */
const rules: FieldCheck = (value, node, spec) => {
  if (node.source === "file") return null;
  const known = (spec.values ?? []) as readonly string[];
  const bad = String(value).split(/[\s,]+/).filter(Boolean).find((r) => !known.includes(r));
  return bad === undefined ? null : `"${bad}" is not one of ${known.join(", ")}`;
};

/** The upper specification limit is above the lower one. */
const aboveLsl: FieldCheck = (value, node) => {
  if (node.source === "file" || node.lsl === undefined || node.lsl === null || String(node.lsl).trim() === "") return null;
  const lsl = Number(node.lsl);
  return Number.isFinite(lsl) && !(Number(value) > lsl) ? `(${String(value)}) must be above lsl (${lsl})` : null;
};

export const schema = defineSchema({
  type: "otb-spc",
  version: 1,
  fields: {
    name: field.text(),
    /** Optional: the context (ISA-95 path) of the KPIs and events. */
    line: field.ref("otb-line"),
    /** Valid sample: the default, for a node whose tag is set. */
    source: field.oneOf(["form", "file"] as const, "form", { check: "sourceNeeds", samples: { valid: ["form"] } }),
    /** A characteristics catalog JSON file, relative to the Node-RED user directory (required by source "file"; read at deploy). */
    catalogFile: field.text({ check: "fileForSource", checkBlank: true, samples: { valid: ["spc-catalog.json"] } }),
    tag: field.text({ check: "formTag", checkBlank: true, samples: { valid: ["filler.volume"] } }),
    chart: field.oneOf(CHART_TYPES, "imr"),
    /** Subgroup size (X-bar), constant sample size (p, np), inspection units per sample (u). */
    n: field.number(5, { check: "subgroup" }),
    baselinePoints: field.number(25, { min: 2, max: 10_000, integer: true, samples: { invalid: [1] } }),
    rules: field.text({ default: "nelson1,nelson2,nelson3,nelson5,nelson6", check: "rules", values: ALL_RULES, samples: { valid: ["we1,we2", "nelson1"], invalid: ["nelson9"] } }),
    lsl: field.number(""),
    usl: field.number("", { check: "aboveLsl" }),
    target: field.number(""),
    /** Capability every this many points; 0: on request only. */
    capabilityEvery: field.number(25, { min: 0, max: 1_000_000, integer: true }),
    persist: field.boolean(true),
  },
  checks: { sourceNeeds, fileForSource, formTag, subgroup, rules, aboveLsl },
});
