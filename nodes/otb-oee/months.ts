/** Month tallies built from closed local days (sums, never averages), for monthly OEE and value. */
import { addTally, emptyTally, type Tally } from "../shared/outcomes/tally";

export class Months {
  current: { label: string; tally: Tally } | null = null;

  /** Adds a closed day ("YYYY-MM-DD"); returns the month that ended, if this day starts a new one. */
  addDay(dayLabel: string, t: Tally): { label: string; tally: Tally } | null {
    const label = dayLabel.slice(0, 7);
    let ended: { label: string; tally: Tally } | null = null;
    if (this.current && this.current.label !== label) {
      ended = this.current;
      this.current = null;
    }
    this.current ??= { label, tally: emptyTally(t.from) };
    addTally(this.current.tally, t);
    return ended;
  }
}
