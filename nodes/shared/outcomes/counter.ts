/**
 * Increments of a cumulative counter (parts counter, energy meter register). A counter that
 * goes down either rolled over (it reached its modulus and started again at 0) or was reset (PLC
 * restart, meter replaced: counting starts again from zero, so the new reading is the
 * increment). It is taken as a rollover only when the increment through `max` would be under a
 * quarter of the counter's modulus (readings come far more often than a quarter of a wrap); any
 * other decrease is a reset. Both are counted and reported; neither loses the parts made since.
 */
export type CounterEvent = "rollover" | "reset" | null;

export interface CounterSnapshot {
  last: number | null;
}

export class CumulativeCounter {
  last: number | null = null;

  /**
   * @param modulus the value at which the counter reads 0 again: 65536 for a 16-bit part
   *   counter (largest value 65535), 100000 for an energy register that shows 99999.9 kWh.
   */
  constructor(readonly modulus?: number) {}

  /** The increment since the previous reading; throws a RangeError on a negative or non-finite reading. */
  update(value: number): { delta: number; event: CounterEvent } {
    if (!Number.isFinite(value)) throw new RangeError(`counter reading ${value} is not a finite number`);
    if (value < 0) throw new RangeError(`counter reading ${value} is negative`);
    const prev = this.last;
    this.last = value;
    if (prev === null) return { delta: 0, event: null };
    if (value >= prev) return { delta: value - prev, event: null };
    if (this.modulus !== undefined && prev < this.modulus) {
      const wrapped = this.modulus - prev + value;
      if (wrapped <= this.modulus / 4) return { delta: wrapped, event: "rollover" };
    }
    return { delta: value, event: "reset" };
  }

  snapshot(): CounterSnapshot {
    return { last: this.last };
  }

  restore(s: CounterSnapshot | undefined): void {
    this.last = s && typeof s.last === "number" ? s.last : null;
  }
}
