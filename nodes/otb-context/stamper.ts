/**
 * The context logic of otb-context, free of Node-RED: stamps Signals with the line's ISA-95
 * identity, product/batch/order, shift and operating mode, and reports every change as a
 * ContextEvent so that "which product ran on which line in which shift" becomes data.
 *
 * Allocation: all Signals stamped under the same context share one Context object, rebuilt
 * only when something changes, so a batch costs no per-Signal objects. Consumers must treat
 * signal.context as read-only. The shift is looked up once per minute of source time (every
 * time zone's offset is a whole number of minutes, so a shift cannot change inside one).
 */
import { ValidationError, type Context, type ContextEvent, type Mode, type ShiftAt, type Signal } from "../shared";
import { isMode, type ModeDeriver } from "./mode";

/** What an MES, an operator form or a schedule may set, and what survives a restart. */
export interface OperatorContext {
  product?: string;
  batch?: string;
  order?: string;
  /** A mode set by a person (maintenance, changeover) wins over the derived one until cleared. */
  mode?: Mode;
}

export const OPERATOR_FIELDS = ["product", "batch", "order", "mode"] as const;
/** Fields compared to decide whether the context changed. */
const TRACKED = ["product", "batch", "order", "shift", "mode"] as const;
const MAX_FIELD_LENGTH = 256;

export interface StamperOptions {
  /** enterprise/site/area/line, and cell/asset when configured; a default product may be set. */
  identity: Context;
  shiftAt: (ts: number) => ShiftAt | null;
  mode: ModeDeriver | null;
  initial?: OperatorContext;
}

export class ContextStamper {
  private readonly identity: Context;
  private readonly shiftAt: (ts: number) => ShiftAt | null;
  private readonly modeDeriver: ModeDeriver | null;
  private operator: OperatorContext;
  private derivedMode: Mode | undefined;
  private shift: string | undefined;
  /** Source-time minute the shift was last looked up for (the newest seen). */
  private minute = -Infinity;
  private current: Context | null = null;
  private announced: Context | null = null;
  // A late Signal from an earlier minute gets its own shift without moving the line's clock.
  private lateMinute = NaN;
  private lateContext: Context | null = null;

  constructor(options: StamperOptions) {
    this.identity = options.identity;
    this.shiftAt = options.shiftAt;
    this.modeDeriver = options.mode;
    this.operator = { ...(options.initial ?? {}) };
  }

  /** The operator fields to persist. */
  get operatorContext(): OperatorContext {
    return { ...this.operator };
  }

  /** The context now (built on demand), e.g. for the status. */
  get context(): Context {
    return this.current ?? this.build();
  }

  /**
   * Stamps every Signal in place; context changes seen on the way are appended to `events`.
   * Items must already be Signals (at least an object with a tag and a finite ts).
   */
  stamp(signals: Signal[], events: ContextEvent[]): void {
    for (const s of signals) this.stampOne(s, events);
  }

  /** stamp() for one Signal, for a caller that checks and stamps a batch in one pass. */
  stampOne(s: Signal, events: ContextEvent[]): void {
    const deriver = this.modeDeriver;
    if (deriver !== null && s.tag === deriver.tag) {
      const m = deriver.update(s);
      if (m !== undefined && m !== this.derivedMode) {
        this.derivedMode = m;
        this.current = null;
      }
    }
    const minute = Math.floor(s.ts / 60_000);
    if (minute > this.minute) {
      this.minute = minute;
      const shift = this.shiftAt(s.ts)?.name;
      if (shift !== this.shift) {
        this.shift = shift;
        this.current = null;
      }
    } else if (minute < this.minute) {
      s.context = this.lateContextFor(minute, s.ts);
      return;
    }
    if (this.current === null) this.refresh(s.ts, events);
    s.context = this.current!;
  }

  /**
   * Applies a context update ({product, batch, order, mode}; null or "" clears a field).
   * Throws a ValidationError naming the first bad field; applies nothing in that case.
   */
  update(fields: unknown, ts: number, events: ContextEvent[]): void {
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
      throw new ValidationError("a context update must be an object like {product, batch, order, mode}");
    }
    const next: OperatorContext = { ...this.operator };
    let any = false;
    for (const [key, value] of Object.entries(fields)) {
      if (!(OPERATOR_FIELDS as readonly string[]).includes(key)) {
        throw new ValidationError(`context field "${key}" cannot be set by a message (allowed: ${OPERATOR_FIELDS.join(", ")})`);
      }
      any = true;
      const k = key as (typeof OPERATOR_FIELDS)[number];
      if (value === null || value === "") {
        delete next[k];
      } else if (k === "mode") {
        if (!isMode(value)) throw new ValidationError(`mode "${String(value)}" is not one of running, idle, changeover, maintenance, fault, unknown`);
        next.mode = value;
      } else {
        if (typeof value !== "string") throw new ValidationError(`context field "${k}" must be a string, got ${typeof value}`);
        if (value.length > MAX_FIELD_LENGTH) throw new ValidationError(`context field "${k}" is longer than ${MAX_FIELD_LENGTH} characters`);
        next[k] = value;
      }
    }
    if (!any) throw new ValidationError("the context update names no field (product, batch, order, mode)");
    this.operator = next;
    if (this.shift === undefined && this.minute === -Infinity) this.shift = this.shiftAt(ts)?.name;
    this.current = null;
    this.lateContext = null;
    this.refresh(ts, events);
  }

  private refresh(ts: number, events: ContextEvent[]): void {
    const ctx = this.build();
    this.current = ctx;
    this.lateContext = null;
    const prev = this.announced;
    const changed: string[] = [];
    for (const k of TRACKED) if ((prev ? prev[k] : undefined) !== ctx[k]) changed.push(k);
    if (prev && changed.length === 0) return;
    this.announced = ctx;
    events.push({ kind: "context", ts, context: ctx, changed });
  }

  private build(shift = this.shift): Context {
    const ctx: Context = { ...this.identity };
    const op = this.operator;
    if (op.product !== undefined) ctx.product = op.product;
    if (op.batch !== undefined) ctx.batch = op.batch;
    if (op.order !== undefined) ctx.order = op.order;
    if (shift !== undefined) ctx.shift = shift;
    const mode = op.mode ?? this.derivedMode ?? (this.modeDeriver ? "unknown" : undefined);
    if (mode !== undefined) ctx.mode = mode;
    return ctx;
  }

  private lateContextFor(minute: number, ts: number): Context {
    if (minute === this.lateMinute && this.lateContext) return this.lateContext;
    const shift = this.shiftAt(ts)?.name;
    if (this.current === null) this.current = this.build();
    this.lateMinute = minute;
    this.lateContext = shift === this.shift ? this.current : this.build(shift);
    return this.lateContext;
  }
}
