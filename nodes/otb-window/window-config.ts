/** Parsing of an otb-window's editor configuration into WindowOptions; throws ConfigError naming the field. */
import { ConfigError, bool, isSafeTopicLevel, num } from "../shared";
import type { ModelCard } from "../shared/model-card";
import type { NodeDef } from "../shared/red";
import { featureName, isAggregation, parseFeatureName, AGGREGATIONS } from "./aggregations";
import type { FeatureSpec, MissingPolicy, WindowOptions } from "./window-engine";

export interface OtbWindowDef extends NodeDef {
  windowName: string;
  mode: "tumbling" | "sliding";
  /** Seconds (decimals allowed), as the form shows them. */
  length: string | number;
  hop: string | number;
  /** [{tag, agg}] as the form saves it; "tag:agg" strings (as in a model card) are accepted too. */
  features: Array<{ tag: string; agg: string } | string> | string;
  /** Optional: take the feature list from this model card at deploy, so window and model cannot disagree. */
  cardPath?: string;
  acceptUncertain: boolean | string;
  missing: MissingPolicy;
  lateTolerance: string | number;
  closeOnWallClock?: boolean | string;
}

export interface WindowConfig {
  windowName: string;
  options: WindowOptions;
}

const MISSING: readonly MissingPolicy[] = ["skip", "hold", "mark"];

export function parseFeatures(raw: OtbWindowDef["features"]): FeatureSpec[] {
  let list: Array<{ tag: string; agg: string } | string>;
  if (typeof raw === "string") {
    try {
      list = raw.trim() ? JSON.parse(raw) : [];
    } catch (err) {
      throw new ConfigError(`features is not valid JSON: ${(err as Error).message}`);
    }
  } else list = raw ?? [];
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError("at least one feature (tag and aggregation) is required");
  const specs = list.map((item, i) => {
    const f = typeof item === "string" ? (parseFeatureName(item) ?? { tag: item, agg: "" }) : item;
    const tag = String(f?.tag ?? "").trim();
    const agg = String(f?.agg ?? "");
    if (!tag) throw new ConfigError(`feature ${i + 1}: tag is required`);
    if (!isAggregation(agg)) throw new ConfigError(`feature ${i + 1}: aggregation "${agg}" is not one of ${AGGREGATIONS.join(", ")}`);
    return { tag, agg, name: featureName(tag, agg) };
  });
  return checkDistinct(specs);
}

/** The features a model card asks for, in its order. */
export function featuresFromCard(card: Pick<ModelCard, "features">): FeatureSpec[] {
  return checkDistinct(
    card.features.map((name) => {
      const parsed = parseFeatureName(name);
      if (!parsed) throw new ConfigError(`model card feature "${name}" is not "<tag>:<${AGGREGATIONS.join("|")}>"`);
      return { ...parsed, name };
    }),
  );
}

function checkDistinct(specs: FeatureSpec[]): FeatureSpec[] {
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name)) throw new ConfigError(`feature ${s.name} is listed twice`);
    seen.add(s.name);
  }
  return specs;
}

export function parseWindowConfig(def: Partial<OtbWindowDef>, cardFeatures?: FeatureSpec[]): WindowConfig {
  const windowName = String(def.windowName || def.name || "").trim();
  if (!windowName) throw new ConfigError("window name is required (it becomes the topic level _features/<name>)");
  if (!isSafeTopicLevel(windowName)) throw new ConfigError(`window name "${windowName}" cannot be a topic level (no / + # or leading $)`);
  const lengthMs = Math.round(num(def.length, NaN) * 1000);
  if (!(lengthMs >= 1)) throw new ConfigError("length must be a positive number of seconds");
  const hopMs = def.mode === "sliding" ? Math.round(num(def.hop, NaN) * 1000) : lengthMs;
  if (!(hopMs >= 1) || hopMs > lengthMs) throw new ConfigError("hop must be a positive number of seconds, at most the length");
  const missing = (def.missing ?? "mark") as MissingPolicy;
  if (!MISSING.includes(missing)) throw new ConfigError(`missing-value policy "${missing}" is not one of ${MISSING.join(", ")}`);
  const lateToleranceMs = Math.round(num(def.lateTolerance, 1, 0, 3600) * 1000);
  const features = cardFeatures ?? parseFeatures(def.features ?? []);
  return {
    windowName,
    options: {
      lengthMs,
      hopMs,
      features,
      acceptUncertain: bool(def.acceptUncertain, false),
      missing,
      lateToleranceMs,
      closeOnWallClock: bool(def.closeOnWallClock, true),
      maxFutureMs: 5 * 60_000,
      maxSamplesPerTag: 100_000,
      maxCatchUpWindows: 1_000,
    },
  };
}
