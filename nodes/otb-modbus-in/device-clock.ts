/**
 * Device clocks. A register-map row with `"role": "clock"` is a unit's real-time clock (many
 * meters and PLCs have one); its value after scale and offset is Unix time in ms (a uint32 of
 * Unix seconds with scale 1000, say). The clock is read with every poll group of its unit, and a
 * good reading stamps every Signal of that unit in the poll: ts becomes the time the device says
 * its values belong to, instead of the wall-clock time of the reply. This keeps a source whose
 * clock is not the host's (the otbridge simulator at --speed N, a meter on its own time line) on
 * the same time line as its OPC UA and MQTT peers; stamped with the host's time they would land
 * hours away, and a time-integrating consumer (otb-oee) would take every later reading of the
 * others as late.
 *
 * - A poll whose clock read failed after good readings gets the last reading moved on by the
 *   host time since, times the device's rate (device ms per host ms, measured between good
 *   readings over windows of at least RATE_BASELINE_MS of host time; 1 until then), so a clock
 *   that runs N times faster (the simulator at --speed N) is not under-run.
 * - A unit whose clock was never read has no time line yet: its Signals are held (bounded,
 *   counted) and sent with the poll that first reads the clock, stamped back from that reading
 *   (reading minus the host time since each held poll: no rate is known from one reading, so a
 *   fast clock's held polls are stamped closer together than they were, in order). A clock still unread after
 *   `maxHoldMs` or with `maxHeld` Signals held gives up: the held Signals and every later one of
 *   the unit go out with the poll's host time, quality "uncertain" and reason "clock_unread"
 *   (never silently on the wrong time line), and the caller reports it once, until a good reading.
 */
import type { Signal } from "../shared";
import type { TagDef } from "./register-map";

/** Every clock row copied into every poll group (same tag name: one per group's batch). */
export function withClockInEveryGroup(tags: TagDef[]): TagDef[] {
  const clocks = tags.filter((t) => t.role === "clock");
  if (clocks.length === 0) return tags;
  const groups = [...new Set(tags.filter((t) => t.role !== "clock").map((t) => t.group))];
  const out = tags.filter((t) => t.role !== "clock");
  for (const c of clocks) for (const group of groups.length ? groups : [c.group]) out.push({ ...c, group });
  return out;
}

/** The reason on a clocked unit's Signal whose device time is not known. */
export const CLOCK_UNREAD = "clock_unread";
/**
 * Host time between two readings before their ratio is taken as the clock's rate: a clock of
 * whole seconds read 5 s apart is within 20 % at 1x, 0.7 % at 30x.
 */
export const RATE_BASELINE_MS = 5000;

export interface DeviceClockOptions {
  /** Longest a never-read unit's Signals are held waiting for its first reading. */
  maxHoldMs?: number;
  /** Most Signals held per unit. */
  maxHeld?: number;
}

/** A batch to send: its poll group and Signals. */
export interface Stamped {
  group: string;
  batch: Signal[];
}

export interface StampResult {
  /** Batches to send now, in order (held ones released first). */
  out: Stamped[];
  /** Signals of this poll held back, waiting for their unit's first clock reading. */
  held: number;
  /** Units that gave up waiting in this poll (report once each). */
  gaveUp: number[];
  /** Units whose clock was read again after giving up. */
  recovered: number[];
}

interface Held {
  group: string;
  at: number;
  signals: Signal[];
}

interface UnitClock {
  /** Anchor reading (device ms, host ms) the rate is measured from. */
  anchor?: { device: number; host: number };
  last?: { device: number; host: number };
  rate: number;
  held: Held[];
  heldCount: number;
  firstHeldAt?: number;
  gaveUp: boolean;
}

export class DeviceClock {
  private readonly clocks: Set<string>;
  private readonly unitOf: Map<string, number>;
  private readonly units = new Map<number, UnitClock>();
  private readonly maxHoldMs: number;
  private readonly maxHeld: number;
  /** Signals held, and Signals sent "uncertain" for want of a reading, since the start. */
  readonly counters = { held: 0, unread: 0 };

  constructor(tags: readonly TagDef[], private readonly now: () => number = Date.now, opts: DeviceClockOptions = {}) {
    this.clocks = new Set(tags.filter((t) => t.role === "clock").map((t) => t.tag));
    this.unitOf = new Map(tags.map((t) => [t.tag, t.unitId ?? -1]));
    for (const t of tags) if (t.role === "clock") this.units.set(t.unitId ?? -1, { rate: 1, held: [], heldCount: 0, gaveUp: false });
    this.maxHoldMs = opts.maxHoldMs ?? 10_000;
    this.maxHeld = opts.maxHeld ?? 10_000;
  }

  /** Signals held now, all units. */
  get holding(): number {
    let n = 0;
    for (const u of this.units.values()) n += u.heldCount;
    return n;
  }

  /** Units whose clock has not been read and that gave up waiting (their Signals go out uncertain). */
  get unread(): number[] {
    return [...this.units].filter(([, u]) => u.gaveUp).map(([unit]) => unit);
  }

  stamp(group: string, batch: Signal[]): StampResult {
    const result: StampResult = { out: [], held: 0, gaveUp: [], recovered: [] };
    if (this.clocks.size === 0) {
      result.out.push({ group, batch });
      return result;
    }
    const now = this.now();
    const read = new Map<number, number>();
    for (const s of batch) {
      if (this.clocks.has(s.tag) && s.quality === "good" && typeof s.value === "number" && Number.isFinite(s.value)) {
        read.set(this.unitOf.get(s.tag) ?? -1, Math.round(s.value));
      }
    }
    for (const [unit, device] of read) this.onReading(unit, device, now, result);
    const keep: Signal[] = [];
    for (const s of batch) {
      const unit = this.unitOf.get(s.tag) ?? -1;
      const clock = this.units.get(unit);
      const device = read.get(unit);
      if (!clock) keep.push(s);
      else if (device !== undefined) keep.push(s.ts === device ? s : { ...s, ts: device });
      else if (clock.last) keep.push({ ...s, ts: Math.round(clock.last.device + clock.rate * (now - clock.last.host)) });
      else if (clock.gaveUp) keep.push(this.markUnread(s));
      else this.hold(clock, group, s, now, result);
    }
    this.expire(now, result);
    if (keep.length > 0 || result.held === 0) result.out.push({ group, batch: keep });
    return result;
  }

  private onReading(unit: number, device: number, now: number, result: StampResult): void {
    const clock = this.units.get(unit)!;
    if (clock.gaveUp) result.recovered.push(unit);
    clock.gaveUp = false;
    // A clock that went back (reset, set by hand) starts a new rate measurement.
    if (!clock.anchor || (clock.last && device < clock.last.device)) {
      clock.anchor = { device, host: now };
      clock.rate = 1;
    } else if (now - clock.anchor.host >= RATE_BASELINE_MS) {
      const rate = (device - clock.anchor.device) / (now - clock.anchor.host);
      if (rate > 0 && Number.isFinite(rate)) clock.rate = rate;
      // Measured afresh over each window, so a change of pace (the simulator at --speed N keeps
      // pace with the wall clock once it has caught up) is followed within a window.
      clock.anchor = { device, host: now };
    }
    clock.last = { device, host: now };
    // Held polls are stamped back from this first reading: device time elapsed since each poll.
    for (const h of clock.held) {
      const ts = Math.round(device - clock.rate * (now - h.at));
      result.out.push({ group: h.group, batch: h.signals.map((s) => ({ ...s, ts })) });
    }
    clearHeld(clock);
  }

  private hold(clock: UnitClock, group: string, s: Signal, now: number, result: StampResult): void {
    const lastHeld = clock.held[clock.held.length - 1];
    if (lastHeld && lastHeld.at === now && lastHeld.group === group) lastHeld.signals.push(s);
    else clock.held.push({ group, at: now, signals: [s] });
    clock.heldCount++;
    clock.firstHeldAt ??= now;
    result.held++;
    this.counters.held++;
  }

  /** Units that waited too long (or hold too much) give up: held Signals go out uncertain. */
  private expire(now: number, result: StampResult): void {
    for (const [unit, clock] of this.units) {
      if (clock.firstHeldAt === undefined) continue;
      if (now - clock.firstHeldAt < this.maxHoldMs && clock.heldCount < this.maxHeld) continue;
      clock.gaveUp = true;
      result.gaveUp.push(unit);
      result.out.unshift(...clock.held.map((h) => ({ group: h.group, batch: h.signals.map((s) => this.markUnread(s)) })));
      result.held -= clock.held.filter((h) => h.at === now).reduce((n, h) => n + h.signals.length, 0);
      clearHeld(clock);
    }
  }

  /** Host time kept, marked: the device's time for this Signal is not known. */
  private markUnread(s: Signal): Signal {
    this.counters.unread++;
    const reasons = s.reasons?.includes(CLOCK_UNREAD) ? s.reasons : [...(s.reasons ?? []), CLOCK_UNREAD];
    return { ...s, quality: s.quality === "good" ? "uncertain" : s.quality, reasons };
  }
}

/** Nothing held any more (released on a reading, or sent uncertain on giving up). */
function clearHeld(clock: UnitClock): void {
  clock.held = [];
  clock.heldCount = 0;
  clock.firstHeldAt = undefined;
}
