/**
 * Per-tag quality counters: what the admin endpoint returns and the periodic summary carries.
 * Bounded: after `maxTags` distinct tags, further unknown tags are counted together under
 * OTHER_TAGS, so a stream of random tags cannot grow memory without limit.
 */
import type { Quality } from "../shared";

export const OTHER_TAGS = "(other tags)";
/** Items that were not Signals at all have no trustworthy tag. */
export const INVALID_ITEMS = "(invalid items)";

export class TagCounters {
  good = 0;
  uncertain = 0;
  bad = 0;
  /** Stale Signals the node generated (not counted in `in`). */
  stale = 0;
  readonly reasons = new Map<string, number>();
  lastSeen = 0;

  get in(): number {
    return this.good + this.uncertain + this.bad;
  }

  count(quality: Quality, reasons: readonly string[] | undefined): void {
    if (quality === "good") this.good++;
    else if (quality === "uncertain") this.uncertain++;
    else this.bad++;
    if (reasons) for (const reason of reasons) this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
  }
}

export interface TagSummary {
  tag: string;
  in: number;
  good: number;
  uncertain: number;
  bad: number;
  stale: number;
  /** Percentage of `in` that was good, one decimal; null before the first value. */
  goodPct: number | null;
  reasons: Record<string, number>;
  lastSeen: number | null;
}

export interface QualitySummary {
  kind: "quality";
  ts: number;
  /** Since the node started or the counters were last reset. */
  since: number;
  totals: Omit<TagSummary, "tag" | "lastSeen" | "reasons"> & { invalid: number };
  tags: TagSummary[];
  /** Catalog tags that have never delivered a value. */
  neverSeen: string[];
}

export class QualityCounters {
  private readonly tags = new Map<string, TagCounters>();
  since: number;

  constructor(private readonly maxTags: number, now: number) {
    this.since = now;
  }

  /** The counters of `tag`, created on first use (or the shared overflow bucket). */
  of(tag: string): TagCounters {
    let c = this.tags.get(tag);
    if (c) return c;
    if (this.tags.size >= this.maxTags) tag = OTHER_TAGS;
    c = this.tags.get(tag);
    if (!c) {
      c = new TagCounters();
      this.tags.set(tag, c);
    }
    return c;
  }

  reset(now: number): void {
    this.tags.clear();
    this.since = now;
  }

  summary(now: number, catalogTags: Iterable<string>): QualitySummary {
    const totals = { in: 0, good: 0, uncertain: 0, bad: 0, stale: 0, goodPct: null as number | null, invalid: 0 };
    const tags: TagSummary[] = [];
    for (const [tag, c] of this.tags) {
      const reasons: Record<string, number> = Object.create(null);
      for (const [r, n] of c.reasons) reasons[r] = n;
      tags.push({ tag, in: c.in, good: c.good, uncertain: c.uncertain, bad: c.bad, stale: c.stale, goodPct: pct(c.good, c.in), reasons, lastSeen: c.lastSeen || null });
      totals.in += c.in;
      totals.good += c.good;
      totals.uncertain += c.uncertain;
      totals.bad += c.bad;
      totals.stale += c.stale;
      if (tag === INVALID_ITEMS) totals.invalid += c.bad;
    }
    totals.goodPct = pct(totals.good, totals.in);
    const neverSeen: string[] = [];
    for (const t of catalogTags) if (!this.tags.get(t)?.lastSeen) neverSeen.push(t);
    return { kind: "quality", ts: now, since: this.since, totals, tags, neverSeen };
  }
}

export function pct(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.round((1000 * part) / whole) / 10;
}
