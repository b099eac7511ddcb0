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
  private readonly shifts: Array<ShiftDef & { from: number; to: number }>;
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
      return { ...s, from, to };
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

  private runsOn(s: ShiftDef, weekday: number): boolean {
    return !s.days || s.days.length === 0 || s.days.includes(weekday);
  }

  private local(ts: number): LocalTime {
    const parts: Record<string, string> = {};
    for (const p of this.fmt.formatToParts(new Date(ts))) parts[p.type] = p.value;
    return {
      date: `${parts.year}-${parts.month}-${parts.day}`,
      weekday: WEEKDAYS[parts.weekday] ?? 0,
      minuteOfDay: Number(parts.hour) * 60 + Number(parts.minute),
    };
  }
}
