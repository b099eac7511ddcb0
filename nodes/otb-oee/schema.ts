/** otb-oee's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field, type FieldCheck } from "../shared/schema";

const positive: FieldCheck = (value) => (Number(value) > 0 ? null : "must be more than 0 seconds");

/** {"<product>": seconds}: an ideal cycle time per product, each above 0. */
const perProduct: FieldCheck = (value) => {
  const map = (typeof value === "string" ? JSON.parse(value) : value) as Record<string, unknown>;
  for (const product of Object.keys(map)) {
    const s = map[product];
    if (typeof s !== "number" || !(s > 0)) return `product "${product}" needs a number of seconds above 0 (got ${JSON.stringify(s)})`;
  }
  return null;
};

/** The state from a tag needs the tag (reported on the select too, so the runtime names what the editor marks). */
const stateFromNeeds: FieldCheck = (value, node) =>
  value === "tag" && (node.stateTag === undefined || node.stateTag === null || String(node.stateTag).trim() === "") ? `"tag" needs stateTag (the tag that carries the machine state)` : null;

const tagForState: FieldCheck = (value, node) =>
  node.stateFrom === "tag" && (value === undefined || value === null || String(value).trim() === "") ? "is required when the state comes from a tag" : null;

/** Each counting reads the two counters its value names ("total-reject": totalTag and rejectTag). */
const countingNeeds: FieldCheck = (value, node) => {
  const missing = String(value)
    .split("-")
    .filter((k) => node[`${k}Tag`] === undefined || node[`${k}Tag`] === null || String(node[`${k}Tag`]).trim() === "")
    .map((k) => `${k}Tag`);
  return missing.length === 0 ? null : `"${String(value)}" needs ${missing.join(" and ")} (its counters' tags)`;
};

/** A counter tag the chosen counting reads; `values` names the counter ("total", "good", "reject"). */
const counterTag: FieldCheck = (value, node, spec) => {
  const counter = String((spec.values ?? [])[0]);
  const counting = String(node.counting ?? "total-reject");
  const blank = value === undefined || value === null || String(value).trim() === "";
  return blank && counting.split("-").includes(counter) ? `is required: counting "${counting}" needs the ${counter} counter` : null;
};

export const schema = defineSchema({
  type: "otb-oee",
  version: 1,
  fields: {
    name: field.text(),
    /** The shift calendar and identity come from the line. */
    line: field.ref("otb-line", { required: true }),
    stateFrom: field.oneOf(["context", "tag"] as const, "context", { check: "stateFromNeeds" }),
    /** Required when stateFrom is "tag". */
    stateTag: field.text({ check: "tagForState", checkBlank: true, samples: { valid: ["line1.state"] } }),
    faultTag: field.text(),
    /** Which two counters the line has; each needs its tag. Valid sample: the default, for a node whose tags are set. */
    counting: field.oneOf(["total-reject", "total-good", "good-reject"] as const, "total-reject", { check: "countingNeeds", samples: { valid: ["total-reject"] } }),
    totalTag: field.text({ check: "counterTag", checkBlank: true, values: ["total"], samples: { valid: ["line1.parts_total"] } }),
    goodTag: field.text({ check: "counterTag", checkBlank: true, values: ["good"], samples: { valid: ["line1.parts_good"] } }),
    rejectTag: field.text({ check: "counterTag", checkBlank: true, values: ["reject"], samples: { valid: ["line1.parts_reject"] } }),
    energyTag: field.text(),
    /** Unit of the energy register (the simulator's meter1.energy_total counts Wh). */
    energyUnit: field.oneOf(["kWh", "Wh"] as const, "kWh"),
    idealCycleSec: field.number(1, { required: true, check: "positive", samples: { valid: [0.5, "2"], invalid: [0, "-1"] } }),
    idealCycles: field.json("{}", { json: "object", check: "perProduct", samples: { valid: ['{"P-100": 1.2}'], invalid: ['{"P-100": 0}', '{"P-100": "fast"}'] } }),
    microStopSec: field.number(120, { min: 0, max: 86_400 }),
    maxGapSec: field.number(60, { min: 1, max: 86_400 }),
    /** Where the part counters wrap (blank: they do not). */
    counterMax: field.number("", { min: 1 }),
    energyWrap: field.number("", { min: 1 }),
    startupSec: field.number(0, { min: 0, max: 86_400 }),
    windowMin: field.number(60, { min: 1, max: 7 * 1440 }),
    /** Seconds between rolling-window KPIs; 0 sends none. */
    windowEverySec: field.number(60, { min: 0, max: 86_400 }),
    followClock: field.boolean(true),
    persist: field.boolean(true),
    /** A business case JSON file, relative to the Node-RED user directory. */
    businessCaseFile: field.text(),
  },
  checks: { positive, perProduct, stateFromNeeds, tagForState, countingNeeds, counterTag },
});
