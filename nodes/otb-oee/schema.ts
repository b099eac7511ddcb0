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

export const schema = defineSchema({
  type: "otb-oee",
  version: 1,
  fields: {
    name: field.text(),
    /** The shift calendar and identity come from the line. */
    line: field.ref("otb-line", { required: true }),
    stateFrom: field.oneOf(["context", "tag"] as const, "context"),
    /** Required when stateFrom is "tag" (checked at deploy and in lint). */
    stateTag: field.text(),
    faultTag: field.text(),
    /** Which two counters the line has; their tags are checked at deploy and in lint. */
    counting: field.oneOf(["total-reject", "total-good", "good-reject"] as const, "total-reject"),
    totalTag: field.text({ samples: { valid: ["line1.parts_total"] } }),
    goodTag: field.text(),
    rejectTag: field.text({ samples: { valid: ["line1.parts_reject"] } }),
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
  checks: { positive, perProduct },
});
