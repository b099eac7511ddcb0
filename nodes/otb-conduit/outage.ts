/**
 * One report per outage, not one per retry: an endless reconnect loop against a broker that
 * refuses us must not flood Catch and the log, but the first failure must never go unsaid.
 * An outage starts with the first failed attempt (or the first drop) and ends once the link
 * has stayed up for `stableMs`, so a broker that accepts CONNECT and drops us again at once
 * (session taken over, an ACL that disconnects) is still one outage.
 */
import type { LinkFailure } from "../shared/link-failure";

export interface OutageEvents {
  /** The first failure of an outage. */
  down(failure: LinkFailure): void;
  /** The link has been stable for stableMs after an outage that began `downMs` ago. */
  restored(downMs: number, first: LinkFailure): void;
}

export class OutageTracker {
  /** Why the link is down right now (null while connected). */
  current: LinkFailure | null = null;
  private first: LinkFailure | null = null;
  private since = 0;
  private stableTimer: NodeJS.Timeout | null = null;

  constructor(private readonly stableMs: number, private readonly events: OutageEvents) {}

  get inOutage(): boolean {
    return this.first !== null;
  }

  failed(failure: LinkFailure): void {
    this.current = failure;
    this.cancelStable();
    if (this.first) return;
    this.first = failure;
    this.since = Date.now();
    this.events.down(failure);
  }

  connected(): void {
    this.current = null;
    if (!this.first || this.stableTimer) return;
    this.stableTimer = setTimeout(() => {
      this.stableTimer = null;
      const first = this.first;
      this.first = null;
      if (first) this.events.restored(Date.now() - this.since, first);
    }, this.stableMs);
    this.stableTimer.unref?.();
  }

  close(): void {
    this.cancelStable();
  }

  private cancelStable(): void {
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = null;
  }
}
