/**
 * From Signals and ContextEvents to OEE engine calls, free of Node-RED. A Signal that cannot be
 * used (bad quality, a counter that is not a number or is negative, an unknown state) is
 * returned with its reason and never reaches the counts; time it leaves uncovered is counted as
 * missing by the engine, never guessed.
 */
import { MODES, type Mode, type Signal } from "../shared";
import type { CounterRole, OeeEngine } from "../shared/outcomes/oee";
import type { OeeSettings } from "./oee-config";

export interface Rejected {
  index: number;
  item: unknown;
  reason: string;
}

/** running/true/1 = running, false/0 = idle, or a Mode name. */
export function parseMode(v: unknown): Mode | null {
  if (typeof v === "string") return (MODES as readonly string[]).includes(v) ? (v as Mode) : null;
  if (typeof v === "boolean") return v ? "running" : "idle";
  if (typeof v === "number" && (v === 0 || v === 1)) return v === 1 ? "running" : "idle";
  return null;
}

/** Clock skew tolerated between a device and this computer. */
export const FUTURE_MS = 5 * 60_000;

export class OeeInput {
  private stateMode: Mode | null = null;
  private fault: string | null = null;
  private readonly roles = new Map<string, CounterRole>();
  signals = 0;
  rejected = 0;
  reasons = 0;

  /**
   * @param now when given (live data), a Signal stamped more than FUTURE_MS ahead of it is refused:
   *   one wrong device clock would otherwise move the line's time ahead and make every later
   *   reading "late".
   */
  constructor(private readonly engine: OeeEngine, private readonly settings: Pick<OeeSettings, "stateFrom" | "tags"> & { energyScale?: number }, private readonly now?: () => number) {
    const t = settings.tags;
    if (t.total) this.roles.set(t.total, "total");
    if (t.good) this.roles.set(t.good, "good");
    if (t.reject) this.roles.set(t.reject, "reject");
    if (t.energy) this.roles.set(t.energy, "energy");
  }

  /** A Signal batch, one Signal, or a ContextEvent. */
  handle(payload: unknown): Rejected[] {
    const out: Rejected[] = [];
    if (payload && typeof payload === "object" && !Array.isArray(payload) && (payload as { kind?: unknown }).kind === "context") {
      const r = this.contextEvent(payload as Record<string, unknown>);
      if (r) out.push({ index: 0, item: payload, reason: r });
      return out;
    }
    const items = Array.isArray(payload) ? payload : [payload];
    items.forEach((item, index) => {
      const reason = this.signal(item);
      if (reason) {
        this.rejected++;
        out.push({ index, item, reason });
      }
    });
    return out;
  }

  private contextEvent(ev: Record<string, unknown>): string | null {
    const ts = ev.ts;
    if (typeof ts !== "number" || !Number.isFinite(ts)) return "context event without a numeric ts";
    const ctx = (ev.context ?? {}) as Record<string, unknown>;
    if (typeof ctx.product === "string" && ctx.product !== this.engine.currentProduct) this.engine.setProduct(ts, ctx.product);
    if (this.settings.stateFrom === "context" && typeof ctx.mode === "string") {
      const m = parseMode(ctx.mode);
      if (m) {
        this.stateMode = m;
        this.apply(ts);
      }
    }
    if (typeof ev.reason === "string" && ev.reason.trim()) {
      if (this.engine.setReason(ts, ev.reason.trim())) this.reasons++;
    }
    return null;
  }

  /** Returns a rejection reason, or null when the Signal was used. */
  private signal(item: unknown): string | null {
    const s = item as Signal;
    if (!s || typeof s !== "object" || typeof s.tag !== "string" || typeof s.ts !== "number" || !Number.isFinite(s.ts)) {
      return "not a Signal (needs tag and a numeric ts)";
    }
    if (s.quality === "bad") return `bad_quality${s.reasons?.length ? `: ${s.reasons.join(", ")}` : ""}`;
    if (this.now && s.ts > this.now() + FUTURE_MS) return `future_timestamp: ${new Date(s.ts).toISOString()} is ahead of this computer's clock`;
    this.signals++;
    const ts = s.ts;
    const product = s.context?.product;
    if (product !== undefined && product !== this.engine.currentProduct) this.engine.setProduct(ts, product);
    let stateChanged = false;
    if (this.settings.stateFrom === "context" && s.context?.mode) {
      this.stateMode = s.context.mode;
      stateChanged = true;
    }
    const t = this.settings.tags;
    if (s.tag === t.state && this.settings.stateFrom === "tag") {
      const m = parseMode(s.value);
      if (!m) return `unknown_state: ${JSON.stringify(s.value)} is not running/idle/changeover/maintenance/fault/unknown, a boolean or 0/1`;
      this.stateMode = m;
      stateChanged = true;
    }
    if (t.fault && s.tag === t.fault) {
      const v = s.value;
      this.fault = v === null || v === 0 || v === "" || v === false || v === "0" ? null : String(v);
      stateChanged = true;
    }
    const role = this.roles.get(s.tag);
    if (role) {
      const v = typeof s.value === "string" && s.value.trim() !== "" ? Number(s.value) : s.value;
      if (typeof v !== "number" || !Number.isFinite(v)) return `not_numeric: counter ${s.tag} = ${JSON.stringify(s.value)}`;
      if (v < 0) return `negative_count: counter ${s.tag} = ${v}`;
      if (stateChanged) this.apply(ts);
      // The engine counts energy in kWh; a register in Wh is scaled (its wrap value is, too).
      this.engine.count(ts, role, role === "energy" ? v * (this.settings.energyScale ?? 1) : v);
      return null;
    }
    if (stateChanged) this.apply(ts);
    else this.engine.observe(ts);
    return null;
  }

  private apply(ts: number): void {
    if (this.fault !== null) this.engine.setMode(ts, "fault", this.fault);
    else this.engine.setMode(ts, this.stateMode ?? "unknown");
  }

  snapshot(): { stateMode: Mode | null; fault: string | null } {
    return { stateMode: this.stateMode, fault: this.fault };
  }

  restore(s: { stateMode?: Mode | null; fault?: string | null } | undefined): void {
    this.stateMode = s?.stateMode ?? null;
    this.fault = s?.fault ?? null;
  }
}
