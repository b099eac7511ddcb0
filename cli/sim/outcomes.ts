/**
 * The filling station's outcomes: every part gets a measured characteristic (fill volume, ml)
 * with common-cause noise, is judged good or reject against its specification, and moves the
 * line's part counters; the station also has its own stops. Outcome scenarios inject the special
 * causes SPC and OEE must see (a mean shift, a variance increase, a slow tool-wear trend,
 * micro-stops, breakdowns with fault codes, reject bursts, planned breaks), each written to the
 * labels file like the other faults, from a seeded stream so (scenario, seed) repeats exactly.
 */
import type { Signal } from "../../nodes/shared/types";
import type { LabelWriter } from "./labels";
import { Rng } from "./rng";
import { at } from "../checked";

export type OutcomeFault = "mean_shift" | "variance_increase" | "tool_wear" | "micro_stops" | "breakdown" | "rejects" | "planned_break";
export const OUTCOME_FAULTS: readonly OutcomeFault[] = ["mean_shift", "variance_increase", "tool_wear", "micro_stops", "breakdown", "rejects", "planned_break"];

export const OUTCOME_SCENARIOS: ReadonlyArray<{ name: string; description: string; kinds: OutcomeFault[] }> = [
  { name: "outcomes-normal", description: "common-cause variation only", kinds: [] },
  { name: "mean-shift", description: "the filler's mean moves by 1.5 sigma", kinds: ["mean_shift"] },
  { name: "variance-increase", description: "the fill volume's standard deviation doubles", kinds: ["variance_increase"] },
  { name: "tool-wear", description: "a slow linear drift of the mean (a wearing dosing valve)", kinds: ["tool_wear"] },
  { name: "micro-stops", description: "stops of 10-90 s every few minutes (starved infeed)", kinds: ["micro_stops"] },
  { name: "breakdowns", description: "stops of 5-20 min with a fault code", kinds: ["breakdown"] },
  { name: "rejects", description: "a burst of rejects from the checkweigher", kinds: ["rejects"] },
  { name: "planned-breaks", description: "a planned break: the line stops, no loss", kinds: ["planned_break"] },
  { name: "outcomes-mixed", description: "every outcome fault, in a seeded order", kinds: [...OUTCOME_FAULTS] },
];

export interface PartsOptions {
  /** Ideal cycle time, s (the line's nominal rate). */
  cycleSec: number;
  nominal: number;
  sigma: number;
  lsl: number;
  usl: number;
  /** Share of parts rejected for reasons other than the fill volume (label, cap). */
  baseRejectRate: number;
  /** Performance below ideal: actual cycle = cycleSec / speedFactor. */
  speedFactor: number;
}

export const DEFAULT_PARTS: PartsOptions = { cycleSec: 1, nominal: 500, sigma: 0.5, lsl: 498, usl: 502, baseRejectRate: 0.005, speedFactor: 0.95 };

interface Active {
  fault: OutcomeFault;
  start: number;
  end: number;
  params: Record<string, number | string>;
}

const MIN = 60_000;
const SEC = 1000;
const FAULT_CODES = ["F101 jam at capper", "F204 servo overload", "F310 low air pressure", "F412 label sensor"];

export interface PartsStep {
  signals: Signal[];
  parts: number;
  state: "running" | "idle" | "fault";
}

export class PartsProducer {
  private readonly rng: Rng;
  private readonly planRng: Rng;
  private order: OutcomeFault[] = [];
  private next: number;
  private active: Active | null = null;
  private carry = 0;
  total = 0;
  reject = 0;
  private id = 10_000;

  constructor(readonly scenario: { name: string; kinds: OutcomeFault[] }, readonly seed: number, startTs: number, private readonly labels: LabelWriter,
    readonly opts: PartsOptions = DEFAULT_PARTS, private readonly gapMs: [number, number] = [2 * MIN, 5 * MIN]) {
    this.rng = Rng.derive(seed, "parts");
    this.planRng = Rng.derive(seed, `outcomes:${scenario.name}`);
    this.next = startTs + 60 * SEC;
  }

  private draw(kind: OutcomeFault, start: number): Active {
    const r = this.planRng;
    const span = (lo: number, hi: number): number => Math.round(r.between(lo, hi) / SEC) * SEC;
    switch (kind) {
      case "mean_shift": return { fault: kind, start, end: start + span(5 * MIN, 10 * MIN), params: { shiftSigma: r.next() < 0.5 ? -1.5 : 1.5 } };
      case "variance_increase": return { fault: kind, start, end: start + span(5 * MIN, 10 * MIN), params: { sigmaFactor: 2 } };
      case "tool_wear": return { fault: kind, start, end: start + span(15 * MIN, 30 * MIN), params: { driftSigmaAtEnd: 3 } };
      case "micro_stops": return { fault: kind, start, end: start + span(5 * MIN, 10 * MIN), params: { everyMs: 60 * SEC, stopMs: span(10 * SEC, 45 * SEC) } };
      case "breakdown": return { fault: kind, start, end: start + span(5 * MIN, 20 * MIN), params: { code: r.pick(FAULT_CODES) } };
      case "rejects": return { fault: kind, start, end: start + span(2 * MIN, 5 * MIN), params: { rejectRate: 0.2 } };
      case "planned_break": return { fault: kind, start, end: start + 15 * MIN, params: { name: "break" } };
    }
  }

  private schedule(ts: number): void {
    if (this.active && ts >= this.active.end) {
      this.next = this.active.end + Math.round(this.planRng.between(...this.gapMs) / SEC) * SEC;
      this.active = null;
    }
    if (!this.active && this.scenario.kinds.length > 0 && ts >= this.next) {
      if (this.order.length === 0) {
        this.order = [...this.scenario.kinds];
        for (let i = this.order.length - 1; i > 0; i--) {
          const j = Math.floor(this.planRng.next() * (i + 1));
          [this.order[i], this.order[j]] = [at(this.order, j), at(this.order, i)];
        }
      }
      this.active = this.draw(this.order.shift()!, this.next);
      const a = this.active;
      const tags = a.fault === "mean_shift" || a.fault === "variance_increase" || a.fault === "tool_wear" ? ["filler.volume"] : ["line.oee_state", "line.parts_total", "line.parts_reject", "line.fault_code"];
      this.labels.write({ id: this.id++, fault: a.fault, tag: at(tags, 0), tags, start: a.start, end: a.end,
        startIso: new Date(a.start).toISOString(), endIso: new Date(a.end).toISOString(), scenario: this.scenario.name, seed: this.seed, params: a.params });
    }
  }

  /** The station's state at ts under the active fault. */
  private stateAt(ts: number): { state: "running" | "idle" | "fault"; code: string } {
    const a = this.active;
    if (!a || ts < a.start) return { state: "running", code: "" };
    if (a.fault === "breakdown") return { state: "fault", code: String(a.params.code) };
    if (a.fault === "planned_break") return { state: "idle", code: "" };
    if (a.fault === "micro_stops") {
      const phase = (ts - a.start) % Number(a.params.everyMs);
      return { state: phase < Number(a.params.stopMs) ? "idle" : "running", code: "" };
    }
    return { state: "running", code: "" };
  }

  /** Advances dtMs to ts; returns the Signals of this step (one filler.volume per part made). */
  step(ts: number, dtMs: number): PartsStep {
    this.schedule(ts);
    const { state, code } = this.stateAt(ts);
    const o = this.opts;
    const signals: Signal[] = [];
    let parts = 0;
    if (state === "running") {
      this.carry += (dtMs / 1000) * (o.speedFactor / o.cycleSec);
      parts = Math.floor(this.carry);
      this.carry -= parts;
    }
    const a = this.active && ts >= this.active.start ? this.active : null;
    for (let i = 0; i < parts; i++) {
      const pts = ts - dtMs + Math.round(((i + 1) * dtMs) / (parts + 1));
      let mean = o.nominal;
      let sigma = o.sigma;
      if (a?.fault === "mean_shift") mean += Number(a.params.shiftSigma) * o.sigma;
      if (a?.fault === "variance_increase") sigma *= Number(a.params.sigmaFactor);
      if (a?.fault === "tool_wear") mean += ((pts - a.start) / (a.end - a.start)) * Number(a.params.driftSigmaAtEnd) * o.sigma;
      const volume = Number((mean + sigma * this.rng.gauss()).toFixed(3));
      const rejectRate = a?.fault === "rejects" ? Number(a.params.rejectRate) : o.baseRejectRate;
      const bad = volume < o.lsl || volume > o.usl || this.rng.next() < rejectRate;
      this.total++;
      if (bad) this.reject++;
      signals.push(sig("filler.volume", volume, pts, "ml"));
    }
    signals.push(sig("line.oee_state", state, ts), sig("line.fault_code", code, ts), sig("line.parts_total", this.total, ts, "parts"), sig("line.parts_reject", this.reject, ts, "parts"));
    return { signals, parts, state };
  }
}

function sig(tag: string, value: number | string, ts: number, unit?: string): Signal {
  return { tag, value, ts, quality: "good", source: { protocol: "sim", address: tag, device: "filler-sim" }, ...(unit ? { unit } : {}) };
}
