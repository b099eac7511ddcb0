/**
 * The envelope: msg.payload of ingestion, validate and context nodes is a Signal[] batch, and
 * every node also accepts a single Signal. splitBatch() turns either into the valid Signals and
 * the rejected items with a reason each, so that a node can route what it refuses instead of
 * dropping it.
 */
import { describeErrors, isValidSignal, validateSignal, type SignalCheckMemo } from "./schemas";
import type { Context, Signal } from "./types";

export interface RejectedItem {
  /** Position in the incoming batch (0 for a single Signal). */
  index: number;
  item: unknown;
  reason: string;
}

export interface SplitBatch {
  signals: Signal[];
  rejected: RejectedItem[];
}

/**
 * Validates msg.payload as a Signal batch. Never throws: bad input becomes `rejected`. When every
 * item of an array is valid, `signals` is that array itself (no copy per batch): callers read
 * it and must not change it.
 */
export function splitBatch(payload: unknown): SplitBatch {
  const items = Array.isArray(payload) ? payload : [payload];
  let signals: Signal[] | null = null;
  let rejected: RejectedItem[] | null = null;
  const memo: SignalCheckMemo = {};
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (isValidSignal(item, memo)) {
      if (signals) signals.push(item);
      continue;
    }
    // The first invalid item: the valid ones before it are copied once, from here on each is pushed.
    if (!signals) signals = items.slice(0, i) as Signal[];
    (rejected ??= []).push({ index: i, item, reason: describeErrors(validateSignal.errors) });
  }
  return { signals: signals ?? (items as Signal[]), rejected: rejected ?? [] };
}

/** True for a payload that looks like a batch at all (an array, or one object). */
export function isBatchLike(payload: unknown): boolean {
  return Array.isArray(payload) || (typeof payload === "object" && payload !== null);
}

/** `<enterprise>/<site>/<area>/<line>`: the UNS prefix of everything a line publishes. */
export function unsLinePath(ctx: Pick<Context, "enterprise" | "site" | "area" | "line">): string {
  return `${ctx.enterprise}/${ctx.site}/${ctx.area}/${ctx.line}`;
}

/** UNS topic of a Signal: `<enterprise>/<site>/<area>/<line>/<tag>`; the dotted tag stays one topic level. */
export function unsSignalTopic(ctx: Context, tag: string): string {
  return `${unsLinePath(ctx)}/${tag}`;
}

export function unsFeaturesTopic(ctx: Context, windowName: string): string {
  return `${unsLinePath(ctx)}/_features/${windowName}`;
}

export function unsInferenceTopic(ctx: Context, modelName: string): string {
  return `${unsLinePath(ctx)}/_inference/${modelName}`;
}

/**
 * MQTT topic filter match: `+` is one level, a trailing `#` the rest (and the parent level); a
 * topic starting with `$` does not match a filter starting with a wildcard (MQTT 3.1.1 §4.7.2).
 */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** A topic level built from data must not inject MQTT wildcards or system topics. */
export function isSafeTopicLevel(level: string): boolean {
  return level.length > 0 && !/[+#\u0000]/.test(level) && !level.startsWith("$") && !level.includes("/");
}
