/** An otb-window's checked configuration (schema.ts) as WindowOptions; throws ConfigError naming the field. */
import { ConfigError } from "../shared/errors";
import type { ModelCard } from "../shared/model-card";
import type { NodeDef } from "../shared/red";
import { featureName, isAggregation, parseFeatureName, AGGREGATIONS } from "./aggregations";
import { readConfig, type ConfigOf } from "../shared/schema";
import type { FeatureSpec, WindowOptions } from "./window-engine";
import { schema } from "./schema";

export type WindowSettings = ConfigOf<typeof schema>;
export type OtbWindowDef = NodeDef & Partial<Record<keyof WindowSettings, unknown>>;

export interface WindowConfig {
  windowName: string;
  options: WindowOptions;
}

/** The feature list of a checked config (schema.ts checked tags and aggregations). */
export function parseFeatures(raw: unknown): FeatureSpec[] {
  const list = (Array.isArray(raw) ? raw : []) as Array<{ tag: string; agg: string } | string>;
  if (list.length === 0) throw new ConfigError("features needs at least one feature (tag and aggregation), or a model card");
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

/** The window of a saved node (as the runtime and `otbridge lint` read it); card features replace the list. */
export function parseWindowConfig(def: Record<string, unknown>, cardFeatures?: FeatureSpec[]): WindowConfig {
  return windowFromSettings(readConfig(schema, def), cardFeatures);
}

export function windowFromSettings(c: WindowSettings, cardFeatures?: FeatureSpec[]): WindowConfig {
  const lengthMs = Math.round(c.length * 1000);
  const hopMs = c.mode === "sliding" ? Math.round(c.hop * 1000) : lengthMs;
  if (!(lengthMs >= 1) || !(hopMs >= 1)) throw new ConfigError("length and hop must be at least a millisecond");
  return {
    windowName: c.windowName,
    options: {
      lengthMs,
      hopMs,
      features: cardFeatures ?? parseFeatures(c.features),
      acceptUncertain: c.acceptUncertain,
      missing: c.missing,
      lateToleranceMs: Math.round(Math.min(3600, c.lateTolerance) * 1000),
      closeOnWallClock: c.closeOnWallClock,
      closeWhenTagsPass: c.closeWhenTagsPass,
      maxFutureMs: 5 * 60_000,
      maxSamplesPerTag: 100_000,
      maxCatchUpWindows: 1_000,
    },
  };
}
