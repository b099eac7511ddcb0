/**
 * The validation engine behind otb-validate, free of Node-RED so that it can be unit-tested,
 * fuzzed and benchmarked directly. One call per batch: every item comes out exactly once, as a
 * passed Signal (good or uncertain), a quarantined Signal (bad) or an invalid item with its
 * reason. Signals are stamped in place (quality, reasons, unit) to keep the hot path free of
 * per-value allocations; reasons arrays are only created for values that have a finding.
 */
// Straight from the modules, not the ../shared index: its re-exports are getters, read per Signal.
import { isSafeTopicLevel } from "../shared/envelope";
import { describeErrors, isValidSignal, validateSignal, type SignalCheckMemo } from "../shared/schemas";
import { TagLookup } from "../shared/tag-lookup";
import type { Quality, Signal, SignalSource } from "../shared/types";
import { DEFAULT_SEVERITY, type RangeRule, type TagRule, type TunableReason } from "./catalog";
import { INVALID_ITEMS, QualityCounters, type TagCounters } from "./counters";
import { DriftDetector, FlatlineDetector, SpikeDetector } from "./detectors";

export type UnknownTagPolicy = "pass" | "uncertain" | "bad";

export interface EngineOptions {
  rules: TagRule[];
  /** What happens to a tag the rules do not list. */
  unknownTags?: UnknownTagPolicy;
  /** Longer string values are bad (`too_long`): a 1 MB string is a fault, not a reading. */
  maxStringLength?: number;
  /** Distinct tags with their own counters; more are counted together. */
  maxTags?: number;
  now?: () => number;
}

export interface InvalidItem {
  /** Position in the incoming batch (0 for a single item). */
  index: number;
  item: unknown;
  reason: string;
}

export interface BatchResult {
  passed: Signal[];
  quarantined: Signal[];
  invalid: InvalidItem[];
}

interface TagState {
  rule: TagRule;
  counters: TagCounters;
  lastValue: number;
  lastTs: number;
  lastSeen: number;
  lastSource: SignalSource | null;
  stale: boolean;
  flatline: FlatlineDetector | null;
  spike: SpikeDetector | null;
  drift: DriftDetector | null;
}

const RANK: Record<Quality, number> = { good: 0, uncertain: 1, bad: 2 };

export class QualityEngine {
  readonly counters: QualityCounters;
  private readonly states = new Map<string, TagState>();
  /** states.get by batch position (the catalog's states are fixed at construction). */
  private readonly stateAt = new TagLookup(this.states);
  private readonly staleStates: TagState[] = [];
  /** Tags outside the catalog seen so far (bounded like the counters): their counters and whether the tag is unsafe as a topic level. */
  private readonly unknown = new Map<string, { counters: TagCounters; unsafe: boolean }>();
  private readonly maxTags: number;
  private readonly unknownTags: UnknownTagPolicy;
  private readonly maxStringLength: number;
  private readonly now: () => number;
  /** Recent good/total, decayed by the node so that the status shows the current state. */
  recentGood = 0;
  recentTotal = 0;
  // Scratch for the Signal being checked: its worst quality and the reasons found so far.
  private worst: Quality = "good";
  private found: string[] | null = null;

  constructor(options: EngineOptions) {
    this.now = options.now ?? Date.now;
    this.unknownTags = options.unknownTags ?? "pass";
    this.maxStringLength = options.maxStringLength ?? 1024;
    this.maxTags = options.maxTags ?? 10_000;
    this.counters = new QualityCounters(this.maxTags, this.now());
    for (const given of options.rules) {
      const rule = uniformRule(given);
      const state: TagState = {
        rule,
        counters: this.counters.of(rule.tag),
        lastValue: NaN,
        lastTs: NaN,
        lastSeen: 0,
        lastSource: null,
        stale: false,
        flatline: rule.flatline ? new FlatlineDetector(rule.flatline) : null,
        spike: rule.spike ? new SpikeDetector(rule.spike) : null,
        drift: rule.drift ? new DriftDetector(rule.drift) : null,
      };
      this.states.set(rule.tag, state);
      if (rule.staleMs) this.staleStates.push(state);
    }
  }

  get catalogTags(): IterableIterator<string> {
    return this.states.keys();
  }

  /** Shortest stale period of any rule, or 0 when no rule watches for staleness. */
  get shortestStaleMs(): number {
    let min = 0;
    for (const s of this.staleStates) if (!min || s.rule.staleMs! < min) min = s.rule.staleMs!;
    return min;
  }

  /** Tags currently stale. */
  get staleCount(): number {
    let n = 0;
    for (const s of this.staleStates) if (s.stale) n++;
    return n;
  }

  /**
   * Validates msg.payload (a Signal, a Signal[] or anything else). Never throws. When every item
   * of an array passes (the usual case), `passed` is that array itself, stamped in place: no copy
   * of the batch.
   */
  processBatch(payload: unknown): BatchResult {
    const quarantined: Signal[] = [];
    const invalid: InvalidItem[] = [];
    const now = this.now();
    const memo: SignalCheckMemo = {};
    if (!Array.isArray(payload)) {
      const passed: Signal[] = [];
      if (this.processItem(payload, 0, now, quarantined, invalid, memo)) passed.push(payload as Signal);
      return { passed, quarantined, invalid };
    }
    // null while every item so far passed; from the first one that did not, the passed ones.
    let passed: Signal[] | null = null;
    for (let i = 0; i < payload.length; i++) {
      const item: unknown = payload[i];
      const ok = this.processItem(item, i, now, quarantined, invalid, memo);
      if (passed !== null) {
        if (ok) passed.push(item as Signal);
      } else if (!ok) passed = payload.slice(0, i) as Signal[];
    }
    return { passed: passed ?? (payload as Signal[]), quarantined, invalid };
  }

  /** Stale tags: each tag that has not updated within its staleMs, once per stale episode. */
  sweepStale(): Signal[] {
    const now = this.now();
    const out: Signal[] = [];
    for (const s of this.staleStates) {
      if (s.stale || s.lastSeen === 0 || now - s.lastSeen < s.rule.staleMs!) continue;
      s.stale = true;
      s.counters.stale++;
      s.counters.reasons.set("stale", (s.counters.reasons.get("stale") ?? 0) + 1);
      const signal: Signal = { tag: s.rule.tag, value: null, ts: now, quality: "bad", reasons: ["stale"], source: s.lastSource! };
      if (s.rule.unit) signal.unit = s.rule.unit;
      out.push(signal);
    }
    return out;
  }

  resetCounters(): void {
    this.counters.reset(this.now());
    for (const s of this.states.values()) s.counters = this.counters.of(s.rule.tag);
    this.unknown.clear();
    this.recentGood = this.recentTotal = 0;
  }

  /** True when the item passed (good or uncertain); a quarantined or invalid one is appended to its list. */
  private processItem(item: unknown, index: number, now: number, quarantined: Signal[], invalid: InvalidItem[], memo: SignalCheckMemo): boolean {
    try {
      if (typeof item !== "object" || item === null || Array.isArray(item)) {
        this.reject(item, index, `item is ${item === null ? "null" : Array.isArray(item) ? "an array" : typeof item}, not a Signal object`, invalid);
        return false;
      }
      const raw = item as Record<string, unknown>;
      const value = raw.value;
      let notFinite = false;
      if (typeof value === "number" && !Number.isFinite(value)) {
        // JSON would turn NaN/Infinity into null; carry them as text so nothing downstream
        // mistakes the fault for a missing value.
        raw.value = String(value);
        notFinite = true;
      }
      if (!isValidSignal(raw, memo)) {
        this.reject(item, index, describeErrors(validateSignal.errors), invalid);
        return false;
      }
      const signal = raw as unknown as Signal;
      this.worst = signal.quality;
      this.found = null;
      if (notFinite) this.flag("not_finite", "bad");
      const state = this.stateAt.get(signal.tag, index);
      let counters: TagCounters;
      if (state) {
        counters = state.counters;
        this.applyRule(signal, state, notFinite, now);
      } else {
        const u = this.unknownTag(signal.tag);
        counters = u.counters;
        // Catalog tags were checked at deploy; others must still be usable as one UNS topic level.
        if (u.unsafe) this.flag("unsafe_tag", "bad");
        this.checkValueShape(signal.value);
        if (this.unknownTags !== "pass") this.flag("unknown_tag", this.unknownTags);
      }
      counters.lastSeen = now;
      // Quarantine always says why: a source that said bad without a reason gets one.
      if (this.worst === "bad" && !this.found && !(signal.reasons && signal.reasons.length > 0)) this.found = [SOURCE_BAD];
      const found = this.found as string[] | null;
      if (found) signal.reasons = signal.reasons ? mergeReasons(signal.reasons, found) : found;
      signal.quality = this.worst;
      counters.count(this.worst, found ?? undefined);
      this.recentTotal++;
      if (this.worst === "bad") {
        quarantined.push(signal);
        return false;
      }
      if (this.worst === "good") this.recentGood++;
      return true;
    } catch (err) {
      // A hostile object (a throwing getter, a frozen Signal) is still accounted for.
      this.reject(item, index, `unprocessable: ${(err as Error)?.message ?? String(err)}`, invalid);
      return false;
    }
  }

  private unknownTag(tag: string): { counters: TagCounters; unsafe: boolean } {
    let u = this.unknown.get(tag);
    if (u === undefined) {
      u = { counters: this.counters.of(tag), unsafe: !isSafeTopicLevel(tag) };
      if (this.unknown.size < this.maxTags) this.unknown.set(tag, u);
    }
    return u;
  }

  private reject(item: unknown, index: number, reason: string, invalid: InvalidItem[]): void {
    const c = this.counters.of(INVALID_ITEMS);
    c.count("bad", INVALID_REASON);
    c.lastSeen = this.now();
    this.recentTotal++;
    invalid.push({ index, item, reason });
  }

  private flag(reason: string, quality: Quality): void {
    if (this.found) this.found.push(reason);
    else this.found = [reason];
    if (RANK[quality] > RANK[this.worst]) this.worst = quality;
  }

  private severity(rule: TagRule, reason: TunableReason): Quality {
    return rule.severity?.[reason] ?? DEFAULT_SEVERITY[reason];
  }

  /** Checks every value can get, whatever its tag: size and integer precision. */
  private checkValueShape(value: unknown): boolean {
    if (typeof value === "string" && value.length > this.maxStringLength) {
      this.flag("too_long", "bad");
      return false;
    }
    if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)) {
      // Above 2^53 the number was already rounded when it was parsed: say so, never pass it on as exact.
      this.flag("unsafe_integer", "bad");
      return false;
    }
    return true;
  }

  private applyRule(signal: Signal, s: TagState, notFinite: boolean, now: number): void {
    const rule = s.rule;
    s.lastSeen = now;
    s.lastSource = signal.source;
    s.stale = false;
    if (rule.unit !== undefined) {
      if (signal.unit === undefined) signal.unit = rule.unit;
      else if (signal.unit !== rule.unit) this.flag("unit_mismatch", "bad");
    }
    if (notFinite) return;
    const sourceBad = signal.quality === "bad";
    const value = signal.value;
    if (rule.type !== undefined && typeof value !== rule.type) {
      // A source that already says bad (comm_lost, opcua:Bad...) may send no value at all.
      if (!(sourceBad && value === null)) this.flag("type_mismatch", "bad");
      return;
    }
    if (!this.checkValueShape(value) || typeof value !== "number" || sourceBad) return;
    this.checkNumber(signal, value, s);
  }

  private checkNumber(signal: Signal, x: number, s: TagState): void {
    const rule = s.rule;
    const r = rule.range;
    if (r) {
      if ((r.badBelow !== undefined && x < r.badBelow) || (r.badAbove !== undefined && x > r.badAbove)) this.flag("out_of_range", "bad");
      else if ((r.uncertainBelow !== undefined && x < r.uncertainBelow) || (r.uncertainAbove !== undefined && x > r.uncertainAbove)) this.flag("out_of_range", "uncertain");
    }
    const ts = signal.ts;
    if (rule.maxRatePerSec !== undefined && ts > s.lastTs) {
      const rate = (Math.abs(x - s.lastValue) * 1000) / (ts - s.lastTs);
      if (rate > rule.maxRatePerSec) this.flag("rate_of_change", this.severity(rule, "rate_of_change"));
    }
    if (!(ts < s.lastTs)) {
      // Out-of-order samples are checked but do not move the reference point.
      s.lastValue = x;
      s.lastTs = ts;
    }
    if (s.flatline && s.flatline.check(x, ts)) this.flag("flatline", this.severity(rule, "flatline"));
    if (s.spike && s.spike.check(x)) this.flag("spike", this.severity(rule, "spike"));
    // Only otherwise clean values feed the drift chart, so one spike cannot look like drift.
    if (s.drift && this.found === null && s.drift.check(x)) this.flag("drift", this.severity(rule, "drift"));
  }
}

/**
 * The rule with every field present (undefined where unset) in one order, its range too. Rules
 * from a catalog come in as many object shapes as there are combinations of fields, and reading a
 * field of objects of many shapes takes V8's slow (megamorphic) path: the pilot's eight rules
 * cost about 25 ns per Signal in field reads. Same values, so the same verdicts.
 */
function uniformRule(rule: TagRule): TagRule {
  const range: RangeRule | undefined = rule.range && { ...UNSET_RANGE, ...rule.range };
  return { ...UNSET_RULE, ...rule, range };
}
const UNSET_RULE: Record<keyof TagRule, undefined> = {
  tag: undefined, description: undefined, type: undefined, unit: undefined, range: undefined, maxRatePerSec: undefined,
  staleMs: undefined, flatline: undefined, spike: undefined, drift: undefined, severity: undefined,
};
const UNSET_RANGE: Record<keyof RangeRule, undefined> = { badBelow: undefined, uncertainBelow: undefined, uncertainAbove: undefined, badAbove: undefined };

const INVALID_REASON = ["invalid"] as const;
/** The Signal schema allows 64 reasons; the newest (ours) are kept so the output stays valid. */
const MAX_REASONS = 64;

function mergeReasons(source: string[], found: string[]): string[] {
  const merged = source.concat(found);
  return merged.length > MAX_REASONS ? merged.slice(merged.length - MAX_REASONS) : merged;
}
const SOURCE_BAD = "source_bad";
