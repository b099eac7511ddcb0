/** otb-window's configuration: the one definition editor, runtime and lint read (issue 16). */
import { checks, defineSchema, field, type FieldCheck } from "../shared/schema";
import { AGGREGATIONS } from "./aggregations";

const positive: FieldCheck = (value) => (Number(value) > 0 ? null : "must be more than 0 seconds");

const hop: FieldCheck = (value, node) => {
  if (node.mode !== "sliding") return null;
  const h = Number(value);
  const length = Number(node.length);
  if (!(h > 0)) return "must be more than 0 seconds";
  return Number.isFinite(length) && h > length ? `(${h} s) must not be longer than the length (${length} s)` : null;
};

/**
 * The select carries the hop's verdict too: changing the mode re-judges the hop in the editor,
 * and the runtime and lint name the choice (the first problem in field order). A blank or ${VAR}
 * hop is the hop field's own business, as in fieldProblem.
 */
const modeNeeds: FieldCheck = (value, node, spec, checks) => {
  const hop = String(node.hop ?? "").trim();
  if (value !== "sliding" || hop === "" || /^\$\{[^}]+\}$/.test(hop) || !checks.hop) return null;
  const problem = checks.hop(node.hop, node, spec, checks);
  return problem ? `"sliding" needs a valid hop: hop ${problem}` : null;
};

/** [{tag, agg}] (or "tag:agg" names, as a model card lists them); none needed when a card gives them. */
const features: FieldCheck = (value, node, spec) => {
  let list: unknown = value ?? [];
  if (typeof value === "string") list = value.trim() ? JSON.parse(value) : [];
  if (!Array.isArray(list)) return "must be a list";
  if (list.length === 0) return String(node.cardPath ?? "").trim() ? null : "needs at least one feature (tag and aggregation), or a model card";
  const aggs = (spec.values ?? []) as readonly string[];
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const text = typeof item === "string" ? item : null;
    // "tag:agg"; a name without ":" is all tag (its aggregation missing), not a tag cut short by one character.
    const colon = text !== null ? text.lastIndexOf(":") : -1;
    const tag = text !== null ? (colon < 0 ? text : text.slice(0, colon)) : String((item as { tag?: unknown })?.tag ?? "").trim();
    const agg = text !== null ? (colon < 0 ? "" : text.slice(colon + 1)) : String((item as { agg?: unknown })?.agg ?? "");
    if (!tag) return `${i + 1}: tag is required`;
    if (!aggs.includes(agg)) return `${i + 1}: aggregation "${agg}" is not one of ${aggs.join(", ")}`;
  }
  return null;
};

export const schema = defineSchema({
  type: "otb-window",
  version: 1,
  fields: {
    name: field.text(),
    /** The topic level _features/<windowName>. */
    windowName: field.text({ default: "window1", required: true, check: "topicLevel", samples: { valid: ["pump-1s"], invalid: ["a/b", "#"] } }),
    mode: field.oneOf(["tumbling", "sliding"] as const, "tumbling", { check: "modeNeeds" }),
    /** Seconds, decimals allowed. */
    length: field.number(10, { required: true, check: "positive", samples: { valid: ["0.2", 60], invalid: [0, "-1"] } }),
    hop: field.number(10, { check: "hop" }),
    features: field.json([], { json: "array", check: "features", checkBlank: true, values: AGGREGATIONS, samples: { valid: [[{ tag: "a", agg: "mean" }], ["a:max"]], invalid: [[{ tag: "", agg: "mean" }], [{ tag: "a", agg: "median" }]] } }),
    /** Take the feature list from this model card at deploy, so window and model cannot disagree. */
    cardPath: field.text(),
    acceptUncertain: field.boolean(false),
    missing: field.oneOf(["skip", "hold", "mark"] as const, "mark"),
    /** Seconds a late Signal is still counted; more than an hour is taken as an hour. */
    lateTolerance: field.number(1, { min: 0 }),
    closeOnWallClock: field.boolean(true),
    /**
     * Close a window once every feature's tag has a value at or past its end, before the late
     * tolerance has passed. Off: every window waits the whole tolerance (for sources that deliver
     * one tag's values out of order).
     */
    closeWhenTagsPass: field.boolean(true),
  },
  checks: { topicLevel: checks.topicLevel, positive, hop, modeNeeds, features },
});
