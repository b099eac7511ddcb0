/** otb-infer's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field } from "../shared/schema";

const count = (value: number, min: number, max: number): ReturnType<typeof field.number> => field.number(value, { integer: true, min, max });

export const schema = defineSchema({
  type: "otb-infer",
  version: 1,
  fields: {
    name: field.text(),
    /** Relative paths are read from Node-RED's userDir. */
    modelPath: field.text({ required: true, pattern: "[.][oO][nN][nN][xX]$", patternMessage: "must end in .onnx", samples: { valid: ["models/pump-anomaly.onnx"], invalid: ["model.pt"] } }),
    /** Empty: <model>.card.json beside the model. */
    cardPath: field.text(),
    /** Optional pin of the model's sha256 in the flow itself (reviewed in git); empty trusts the card. */
    sha256: field.text({ pattern: "^[0-9a-fA-F]{64}$", patternMessage: "must be 64 hex digits, or empty to trust the card", samples: { invalid: ["abc"] } }),
    threads: count(1, 1, 64),
    /** Where the model runs: the main thread, or a worker thread (see session-pool.ts). */
    execution: field.oneOf(["main", "worker"] as const, "main"),
    maxQueue: count(100, 1, 1_000_000),
    maxBatch: count(32, 1, 4096),
    dropPolicy: field.oneOf(["drop-oldest", "drop-newest"] as const, "drop-oldest"),
    /** Empty: the card's threshold. */
    threshold: field.number(""),
    raiseAfter: count(3, 1, 100_000),
    clearAfter: count(5, 1, 100_000),
    /** Seconds between drift reports; 0 turns drift off. */
    driftInterval: field.number(60, { min: 0, max: 86_400 }),
    driftWarn: field.number(1, { min: 0, max: 1e9 }),
    hotReload: field.boolean(true),
    /** Seconds between checks of the model file when hot reload is on. */
    pollInterval: field.number(2, { min: 0.05, max: 3600 }),
  },
});
