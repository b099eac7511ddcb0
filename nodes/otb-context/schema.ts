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

export const schema = defineSchema({
  type: "otb-context",
  version: 1,
  fields: {
    name: field.text(),
    line: field.ref("otb-line", { required: true }),
    /** Optional ISA-95 levels below the line, added to every Signal's context. */
    cell: field.text(),
    asset: field.text(),
    modeSource: field.oneOf(["none", "state", "threshold"] as const, "none"),
    /** The tag the mode is derived from (state and threshold modes; checked at deploy and in lint). */
    modeTag: field.text(),
    stateMap: field.json(
      [
        { value: "0", mode: "idle" },
        { value: "1", mode: "running" },
      ],
      { json: "any", check: "stateMap", values: MODES },
    ),
    /** Idle below this value (threshold mode; required there, checked at deploy and in lint). */
    threshold: field.number(""),
    hysteresis: field.number(0, { min: 0, samples: { invalid: [-1] } }),
    /** msg.topic that marks a context update (product/batch/order/mode); blank means "context". */
    contextTopic: field.text({ default: "context" }),
    persist: field.boolean(true),
  },
  checks: { stateMap },
});
