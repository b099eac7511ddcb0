/**
 * Shift calendars in the line's own time zone. Shifts are defined on the local wall clock
 * ("06:00" to "14:00"), so a lookup converts the instant to local time with Intl and compares
 * wall-clock minutes: that is what makes it right on both daylight-saving days, when a night
 * shift lasts 7 or 9 real hours.
 */
import { ConfigError } from "./errors";

export interface ShiftDef {
  name: string;
  /** "HH:MM", local time. */
  start: string;
  /** "HH:MM", local time; before start means the shift ends the next day. */
  end: string;
  /** ISO weekdays the shift starts on, 1 = Monday .. 7 = Sunday; default every day. */
  days?: number[];
  /** Planned stops inside the shift (breaks, meals, planned cleaning), local "HH:MM" times. */
  stops?: PlannedStop[];
}

/** A planned stop: its time counts as planned downtime, not as planned production time. */
export interface PlannedStop {
  name: string;
  start: string;
  end: string;
}

/** What the calendar says about one instant; see ShiftCalendar.segment. */
export interface CalendarSegment {
  shift: ShiftAt | null;
  /** Name of the planned stop in progress, or null. */
  stop: string | null;
  /** Local calendar date, "YYYY-MM-DD". */
  date: string;
  /** Identity of the segment: changes exactly when shift, stop or date changes. */
  key: string;
}

export interface ShiftAt {
  name: string;
  /** Local calendar date the shift started on, "YYYY-MM-DD" (a night shift keeps yesterday's). */
  day: string;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function minutes(hhmm: string): number {
  const m = HHMM.exec(hhmm);
  if (!m) throw new ConfigError(`"${hhmm}" is not a time of day (HH:MM)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

interface LocalTime {
  date: string;
  weekday: number;
  minuteOfDay: number;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

export class ShiftCalendar {
  private readonly shifts: Array<ShiftDef & { from: number; to: number; stopMins: Array<{ name: string; from: number; to: number }> }>;
  private readonly fmt: Intl.DateTimeFormat;

  constructor(readonly timeZone: string, shifts: ShiftDef[]) {
    if (!isValidTimeZone(timeZone)) throw new ConfigError(`unknown time zone "${timeZone}"`);
    const names = new Set<string>();
    this.shifts = shifts.map((s) => {
      if (!s.name) throw new ConfigError("a shift needs a name");
      if (names.has(s.name)) throw new ConfigError(`shift "${s.name}" is defined twice`);
      names.add(s.name);
      for (const d of s.days ?? []) {
        if (!Number.isInteger(d) || d < 1 || d > 7) throw new ConfigError(`shift "${s.name}": day ${d} is not 1..7`);
      }
      const from = minutes(s.start);
      const to = minutes(s.end);
      if (from === to) throw new ConfigError(`shift "${s.name}" starts and ends at ${s.start}`);
      const stopMins = (s.stops ?? []).map((p) => {
        if (!p || !p.name) throw new ConfigError(`shift "${s.name}": a planned stop needs a name`);
        const pf = minutes(p.start);
        const pt = minutes(p.end);
        if (pf === pt) throw new ConfigError(`shift "${s.name}": planned stop "${p.name}" starts and ends at ${p.start}`);
        return { name: p.name, from: pf, to: pt };
      });
      return { ...s, from, to, stopMins };
    });
    this.fmt = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
    });
  }

  /** Number of shifts defined; 0 means no calendar (otb-oee then plans all time, 24/7). */
  get size(): number {
    return this.shifts.length;
  }

  /** The shift running at `ts` (ms since epoch), or null outside every shift. */
  at(ts: number): ShiftAt | null {
    const now = this.local(ts);
    for (const s of this.shifts) {
      const overnight = s.to < s.from;
      if (!overnight) {
        if (now.minuteOfDay >= s.from && now.minuteOfDay < s.to && this.runsOn(s, now.weekday)) {
          return { name: s.name, day: now.date };
        }
        continue;
      }
      if (now.minuteOfDay >= s.from && this.runsOn(s, now.weekday)) return { name: s.name, day: now.date };
      if (now.minuteOfDay < s.to) {
        // After midnight: the shift started on the previous local day.
        const yesterday = this.local(ts - (now.minuteOfDay + 180) * 60_000);
        if (this.runsOn(s, yesterday.weekday)) return { name: s.name, day: yesterday.date };
      }
    }
    return null;
  }

  /**
   * Shift, planned stop and local date at `ts`. Planned stops are wall-clock times like shifts,
   * so a break "02:00-02:30" does not happen on the spring-forward day (02:xx does not exist)
   * and happens twice on the fall-back day (the wall clock passes 02:00-02:30 twice): both are
   * what the plant's clock shows.
   */
  segment(ts: number): CalendarSegment {
    const shift = this.at(ts);
    const now = this.local(ts);
    let stop: string | null = null;
    if (shift) {
      const def = this.shifts.find((s) => s.name === shift.name);
      for (const p of def?.stopMins ?? []) {
        const inside = p.to > p.from ? now.minuteOfDay >= p.from && now.minuteOfDay < p.to : now.minuteOfDay >= p.from || now.minuteOfDay < p.to;
        if (inside) {
          stop = p.name;
          break;
        }
      }
    }
    const key = `${now.date}|${shift ? `${shift.day}/${shift.name}` : "-"}|${stop ?? "-"}`;
    return { shift, stop, date: now.date, key };
  }

  /**
   * The first instant after `ts` at which segment(ts).key changes, searched minute by minute
   * (shift and stop edges are whole local minutes, and every zone offset in use is a whole
   * number of minutes) up to `horizonMs`; ts + horizonMs if nothing changes before.
   */
  nextChange(ts: number, horizonMs = 86_400_000): number {
    const key = this.segment(ts).key;
    const end = ts + horizonMs;
    for (let t = Math.floor(ts / 60_000) * 60_000 + 60_000; t < end; t += 60_000) {
      if (this.segment(t).key !== key) return t;
    }
    return end;
  }

  private runsOn(s: ShiftDef, weekday: number): boolean {
    return !s.days || s.days.length === 0 || s.days.includes(weekday);
  }

  private local(ts: number): LocalTime {
    const parts: Record<string, string> = {};
    for (const p of this.fmt.formatToParts(new Date(ts))) parts[p.type] = p.value;
    return {
      date: `${parts.year}-${parts.month}-${parts.day}`,
      weekday: WEEKDAYS[parts.weekday ?? ""] ?? 0,
      minuteOfDay: Number(parts.hour) * 60 + Number(parts.minute),
    };
  }
}