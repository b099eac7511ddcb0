/**
 * Once-per-outage reporting for Sparkplug edge nodes. A node deployed after its edge nodes were
 * born sees every NDATA before a BIRTH; reporting each to Catch buried the one fact a user can
 * act on (issue 14 item 9). Each (edge node, reason) is reported once until that edge node's next
 * BIRTH ends the episode; the rest are still counted and sent on output 2.
 */
export class ReportLimiter {
  private readonly reported = new Map<string, Set<string>>();
  /** Reports withheld from Catch because the same edge node and reason was already reported. */
  suppressed = 0;

  /** True when this (edge, reason) has not been reported in the current episode; records it. */
  first(edge: string, reason: string): boolean {
    let reasons = this.reported.get(edge);
    if (!reasons) this.reported.set(edge, (reasons = new Set()));
    if (reasons.has(reason)) {
      this.suppressed++;
      return false;
    }
    reasons.add(reason);
    return true;
  }

  /** A BIRTH from `edge`: its next problem is a new one. */
  reset(edge: string): void {
    this.reported.delete(edge);
  }

  /** Edge nodes with an open data_before_birth episode. */
  waitingForBirth(): number {
    let n = 0;
    for (const reasons of this.reported.values()) if (reasons.has("data_before_birth")) n++;
    return n;
  }
}
