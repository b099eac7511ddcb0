/**
 * Alarm hysteresis: raise after N consecutive anomalous frames, clear after M consecutive normal
 * ones. A single noisy frame neither raises nor clears, which is what keeps false alarms (and
 * alarm chatter around the threshold) down.
 */
export type AlarmTransition = "raised" | "cleared" | null;

export class Hysteresis {
  private overRun = 0;
  private underRun = 0;
  active = false;

  constructor(readonly raiseAfter: number, readonly clearAfter: number) {}

  update(anomalous: boolean): AlarmTransition {
    if (anomalous) {
      this.overRun++;
      this.underRun = 0;
      if (!this.active && this.overRun >= this.raiseAfter) {
        this.active = true;
        return "raised";
      }
    } else {
      this.underRun++;
      this.overRun = 0;
      if (this.active && this.underRun >= this.clearAfter) {
        this.active = false;
        return "cleared";
      }
    }
    return null;
  }

  /** Consecutive frames on the current side of the threshold. */
  get run(): number {
    return Math.max(this.overRun, this.underRun);
  }
}
