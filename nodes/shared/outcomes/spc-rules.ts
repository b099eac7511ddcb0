/**
 * Run rules on a control chart, evaluated on each point's z-score (distance from the centre line
 * in sigmas of that point, so attribute charts with varying subgroup sizes are judged fairly).
 * Nelson, L.S. (1984) "The Shewhart Control Chart: Tests for Special Causes", J. Quality
 * Technology 16(4), rules 1-8; Western Electric Statistical Quality Control Handbook (1956),
 * rules 1-4. A rule is reported on the point that completes its pattern, so a pattern that goes
 * on (10 points on one side) keeps violating on every further point until it is broken.
 */
import { at } from "../checked";

export type RuleId =
  | "nelson1" | "nelson2" | "nelson3" | "nelson4" | "nelson5" | "nelson6" | "nelson7" | "nelson8"
  | "we1" | "we2" | "we3" | "we4";

export const ALL_RULES: readonly RuleId[] = [
  "nelson1", "nelson2", "nelson3", "nelson4", "nelson5", "nelson6", "nelson7", "nelson8", "we1", "we2", "we3", "we4",
];

export const RULE_TEXT: Record<RuleId, string> = {
  nelson1: "1 point beyond 3 sigma",
  nelson2: "9 points in a row on one side of the centre line",
  nelson3: "6 points in a row steadily increasing or decreasing",
  nelson4: "14 points in a row alternating up and down",
  nelson5: "2 of 3 points beyond 2 sigma on the same side",
  nelson6: "4 of 5 points beyond 1 sigma on the same side",
  nelson7: "15 points in a row within 1 sigma",
  nelson8: "8 points in a row beyond 1 sigma, on both sides",
  we1: "1 point beyond 3 sigma",
  we2: "2 of 3 points beyond 2 sigma on the same side",
  we3: "4 of 5 points beyond 1 sigma on the same side",
  we4: "8 points in a row on one side of the centre line",
};

/** How many past points each rule looks at, including the current one. */
const SPAN: Record<RuleId, number> = {
  nelson1: 1, nelson2: 9, nelson3: 6, nelson4: 14, nelson5: 3, nelson6: 5, nelson7: 15, nelson8: 8,
  we1: 1, we2: 3, we3: 5, we4: 8,
};

export function isRuleId(x: unknown): x is RuleId {
  return typeof x === "string" && (ALL_RULES as readonly string[]).includes(x);
}

const side = (z: number): number => (z > 0 ? 1 : z < 0 ? -1 : 0);

function sameSide(zs: number[]): boolean {
  const s = side(at(zs, 0));
  return s !== 0 && zs.every((z) => side(z) === s);
}

/** m of the last `zs.length` points beyond `k` sigma on the current point's side; the current one among them. */
function mOfBeyond(zs: number[], m: number, k: number): boolean {
  const cur = at(zs, zs.length - 1);
  if (Math.abs(cur) <= k) return false;
  const s = side(cur);
  return zs.filter((z) => side(z) === s && Math.abs(z) > k).length >= m;
}

function monotone(zs: number[]): boolean {
  let up = true;
  let down = true;
  for (let i = 1; i < zs.length; i++) {
    const d = at(zs, i) - at(zs, i - 1);
    if (!(d > 0)) up = false;
    if (!(d < 0)) down = false;
  }
  return up || down;
}

function alternating(zs: number[]): boolean {
  for (let i = 2; i < zs.length; i++) {
    const a = at(zs, i - 1) - at(zs, i - 2);
    const b = at(zs, i) - at(zs, i - 1);
    if (!(a * b < 0)) return false;
  }
  return true;
}

function check(rule: RuleId, zs: number[]): boolean {
  switch (rule) {
    case "nelson1":
    case "we1":
      return Math.abs(at(zs, 0)) > 3;
    case "nelson2":
    case "we4":
      return sameSide(zs);
    case "nelson3":
      return monotone(zs);
    case "nelson4":
      return alternating(zs);
    case "nelson5":
    case "we2":
      return mOfBeyond(zs, 2, 2);
    case "nelson6":
    case "we3":
      return mOfBeyond(zs, 4, 1);
    case "nelson7":
      return zs.every((z) => Math.abs(z) < 1);
    case "nelson8":
      return zs.every((z) => Math.abs(z) > 1) && zs.some((z) => z > 0) && zs.some((z) => z < 0);
  }
}

/** Keeps the recent z-scores of one chart and reports which selected rules the newest point violates. */
export class RuleChecker {
  private readonly history: number[] = [];
  private readonly keep: number;

  constructor(readonly rules: readonly RuleId[]) {
    this.keep = Math.max(1, ...rules.map((r) => SPAN[r]));
  }

  push(z: number): RuleId[] {
    this.history.push(z);
    if (this.history.length > this.keep) this.history.shift();
    const out: RuleId[] = [];
    for (const rule of this.rules) {
      const span = SPAN[rule];
      if (this.history.length < span) continue;
      if (check(rule, this.history.slice(this.history.length - span))) out.push(rule);
    }
    return out;
  }

  reset(): void {
    this.history.length = 0;
  }

  snapshot(): number[] {
    return [...this.history];
  }

  restore(zs: number[]): void {
    this.history.length = 0;
    for (const z of zs.slice(-this.keep)) if (Number.isFinite(z)) this.history.push(z);
  }
}

/** Evaluates a whole sequence; returns, per point, the rules it violates. */
export function evaluate(zs: number[], rules: readonly RuleId[]): RuleId[][] {
  const c = new RuleChecker(rules);
  return zs.map((z) => c.push(z));
}
