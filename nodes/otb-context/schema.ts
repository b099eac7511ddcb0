/** otb-context's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field, type FieldCheck } from "../shared/schema";
import { MODES } from "../shared/types";

/** State tag value -> mode: rows [{value, mode}] (as the form saves them) or an object; read only for the state mode. */
const stateMap: FieldCheck = (value, node, spec) => {
  if (node.modeSource !== "state") return null;
  const rows = typeof value === "string" ? JSON.parse(value) : value;
  if (typeof rows !== "object" || rows === null) return "must be a list of {value, mode} rows";
  const modes = (spec.values ?? []) as readonly string[];
  const pairs: Array<[string, unknown]> = Array.isArray(rows)
    ? rows.map((row: { value?: unknown; mode?: unknown } | null) => [String(row?.value ?? "").trim(), row?.mode])
    : Object.keys(rows).map((key) => [key, (rows as Record<string, unknown>)[key]]);
  for (let i = 0; i < pairs.length; i++) {
    const [key, mode] = pairs[i]!;
    if (!key) return `row ${i + 1} needs a value`;
    if (!modes.includes(String(mode))) return `value "${key}" maps to "${String(mode)}", not one of ${modes.join(", ")}`;
  }
  return null;
};

/**
 * The state and threshold modes read a tag, the threshold mode a threshold too. The mode reports
 * what it lacks (so the runtime's first problem is the one the editor shows on this select), and
 * modeTag / threshold turn red with it.
 */
const modeNeeds: FieldCheck = (value, node) => {
  const blank = (v: unknown): boolean => v === undefined || v === null || String(v).trim() === "";
  if ((value === "state" || value === "threshold") && blank(node.modeTag)) return `"${String(value)}" needs modeTag (the tag the mode is read from)`;
  if (value === "threshold" && blank(node.threshold)) return `"threshold" needs a threshold (the value below which the line is idle)`;
  return null;
};

/** The state and threshold modes read this tag. */
const tagForMode: FieldCheck = (value, node) => {
  const mode = String(node.modeSource ?? "none");
  const blank = value === undefined || value === null || String(value).trim() === "";
  return blank && (mode === "state" || mode === "threshold") ? `is required: the ${mode} mode needs the tag it reads` : null;
};

/** The threshold mode compares the tag with this value. */
const thresholdForMode: FieldCheck = (value, node) => {
  const blank = value === undefined || value === null || String(value).trim() === "";
  return blank && node.modeSource === "threshold" ? "is required: the threshold mode needs the value below which the line is idle" : null;
};

export const schema = defineSchema({
  type: "otb-context",
  version: 1,
  fields: {
    name: field.text(),
    line: field.ref("otb-line", { required: true }),
    /** Optional ISA-95 levels below the line, added to every Signal's context. */
    cell: field.text(),
    asset: field.text(),
    modeSource: field.oneOf(["none", "state", "threshold"] as const, "none", { check: "modeNeeds" }),
    /** The tag the mode is derived from (required by the state and threshold modes). */
    modeTag: field.text({ check: "tagForMode", checkBlank: true, samples: { valid: ["line1.state"] } }),
    stateMap: field.json(
      [
        { value: "0", mode: "idle" },
        { value: "1", mode: "running" },
      ],
      { json: "any", check: "stateMap", values: MODES },
    ),
    /** Idle below this value (required by the threshold mode). */
    threshold: field.number("", { check: "thresholdForMode", checkBlank: true, samples: { valid: [10] } }),
    hysteresis: field.number(0, { min: 0, samples: { invalid: [-1] } }),
    /** msg.topic that marks a context update (product/batch/order/mode); blank means "context". */
    contextTopic: field.text({ default: "context" }),
    persist: field.boolean(true),
  },
  checks: { stateMap, modeNeeds, tagForMode, thresholdForMode },
});
