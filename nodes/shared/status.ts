/**
 * Honest node status. Green means data flowed within `idleAfterMs`; when it stops, the status
 * turns to a yellow ring by itself, with no further event needed. Repeated identical status
 * updates are not re-sent, and data-rate text is refreshed at most once per `refreshMs`, so a
 * node ingesting 20,000 values/s does not flood the editor's comms.
 */
import type { Node, NodeStatus } from "./red";

export interface StatusOptions {
  /** After this long without data, green becomes "no data". */
  idleAfterMs?: number;
  /** Minimum time between two text refreshes while flowing. */
  refreshMs?: number;
  now?: () => number;
}

export class StatusReporter {
  private last = "";
  private lastFlowAt = 0;
  private lastFlowText = "";
  private lastRefresh = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly idleAfterMs: number;
  private readonly refreshMs: number;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly node: Pick<Node, "status">, options: StatusOptions = {}) {
    this.idleAfterMs = options.idleAfterMs ?? 10_000;
    this.refreshMs = options.refreshMs ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  /** Data just flowed; `text` summarises it ("120 tags", "98.5% good"). */
  flowing(text: string): void {
    const t = this.now();
    this.lastFlowAt = t;
    this.lastFlowText = text;
    if (this.last.startsWith("green") && t - this.lastRefresh < this.refreshMs) {
      this.armIdle();
      return;
    }
    this.lastRefresh = t;
    this.set({ fill: "green", shape: "dot", text });
    this.armIdle();
  }

  /** A condition that needs attention but is not fatal (uncertain data, backlog, dropped items). */
  warning(text: string): void {
    this.disarm();
    this.set({ fill: "yellow", shape: "dot", text });
  }

  /** Waiting: connecting, or connected with no data yet. */
  waiting(text: string): void {
    this.disarm();
    this.set({ fill: "yellow", shape: "ring", text });
  }

  /** Disconnected or retrying. */
  down(text: string): void {
    this.disarm();
    this.set({ fill: "red", shape: "ring", text });
  }

  /** A fault that needs a person (bad config, refused model). */
  error(text: string): void {
    this.disarm();
    this.set({ fill: "red", shape: "dot", text });
  }

  /** Not in use (e.g. disabled); grey. */
  idle(text: string): void {
    this.disarm();
    this.set({ fill: "grey", shape: "ring", text });
  }

  clear(): void {
    this.disarm();
    this.set({});
  }

  /** Time of the last data, 0 if none. */
  get lastDataAt(): number {
    return this.lastFlowAt;
  }

  close(): void {
    this.disarm();
    this.closed = true;
  }

  private set(status: NodeStatus): void {
    if (this.closed) return;
    const key = `${status.fill ?? ""}|${status.shape ?? ""}|${status.text ?? ""}`;
    if (key === this.last) return;
    this.last = key;
    this.node.status(status);
  }

  private armIdle(): void {
    if (this.idleTimer || this.closed) return;
    this.idleTimer = setTimeout(() => this.checkIdle(), this.idleAfterMs);
    this.idleTimer.unref?.();
  }

  private checkIdle(): void {
    this.idleTimer = null;
    const quietFor = this.now() - this.lastFlowAt;
    if (quietFor >= this.idleAfterMs) {
      this.set({ fill: "yellow", shape: "ring", text: `no data ${Math.round(quietFor / 1000)}s (${this.lastFlowText})`.slice(0, 40) });
      return;
    }
    this.idleTimer = setTimeout(() => this.checkIdle(), this.idleAfterMs - quietFor);
    this.idleTimer.unref?.();
  }

  private disarm(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}
