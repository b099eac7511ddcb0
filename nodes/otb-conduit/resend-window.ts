/**
 * At-least-once across a failover (issue 19). A broker's acknowledgement (PUBACK, or for
 * Sparkplug's QoS 0 NDATA the socket write) hands a record over, but a broker killed with
 * SIGKILL (mosquitto without persistence, a cluster member alike) loses what it had taken and
 * not yet passed to its subscribers: 16-18 of 9,000 records in two of ten runs of
 * test/publish/failover.test.ts. The queue has deleted them; the conduit cannot see the loss.
 *
 * So the last acknowledged records stay here, bounded (RESEND_LIMITS), and after the conduit
 * reconnects to ANOTHER broker they are sent again first, in queue order, before the queue's
 * unacknowledged records. Consumers see duplicates after a failover instead of losing records.
 * A record re-sent and acknowledged by the new broker joins the window again (the new broker
 * may die too); one re-sent whose acknowledgement was lost stays pending for the next link.
 * Re-sent records are not new production: they are counted apart (`resent`), never settled in
 * the queue again, so recovered + produced = delivered + quarantined + dropped + expired + queued
 * still holds.
 *
 * Reconnecting to the SAME broker re-sends nothing: a link that dropped while the broker lived
 * lost nothing it acknowledged (a restarted single broker cannot be told apart; see README).
 */
import type { QueueRecord } from "./queue/record";

export interface ResendLimits {
  /** At most this many records (mosquitto queues up to 1,000 per subscriber, plus 20 in flight). */
  records: number;
  /** Records acknowledged longer ago than this are not re-sent (a broker forwards within ms). */
  ms: number;
  /** At most this many payload bytes held in memory. */
  bytes: number;
}

/**
 * Defaults, not yet a conduit setting (the configuration is being converted to a schema: issue
 * 16). 2,000 records cover mosquitto's default per-subscriber queue (max_queued_messages 1000,
 * max_inflight_messages 20) twice; 10 s covers a loaded broker's forwarding delay many times.
 */
export const RESEND_LIMITS: ResendLimits = { records: 2000, ms: 10_000, bytes: 16 * 1024 * 1024 };

interface Held {
  record: QueueRecord;
  at: number;
}

export class ResendWindow {
  /**
   * Records sent again, counted by the forwarder when it writes one to a link: the window's and,
   * in plain mode, queue records replayed after being in flight on a lost link
   * (plain-forwarder.ts), so that the duplicates a consumer sees are at most this many.
   */
  resent = 0;
  private held: Held[] = [];
  private head = 0;
  private bytes = 0;
  /** To be re-sent on the current link, in queue order; `next` is the first not yet sent. */
  private pending: QueueRecord[] = [];
  private next = 0;
  /** Sent on the current link and not yet acknowledged. */
  private readonly unacked = new Map<number, QueueRecord>();
  private broker: string | null = null;

  constructor(private readonly limits: ResendLimits = RESEND_LIMITS, private readonly now: () => number = Date.now) {}

  /** Records handed over to the broker (delivered, or a re-sent one acknowledged again). */
  acknowledged(record: QueueRecord): void {
    this.held.push({ record, at: this.now() });
    this.bytes += record.payload.length;
    this.trim();
  }

  /**
   * A link is up to `broker`. When it is another broker than the last one, everything held
   * becomes pending, merged in queue order with what a lost link left unacknowledged.
   */
  attach(broker: string): void {
    this.rewind();
    const moved = this.broker !== null && this.broker !== broker;
    this.broker = broker;
    if (!moved) return;
    this.trim();
    const bySeq = new Map<number, QueueRecord>();
    for (const r of this.pending) bySeq.set(r.seq, r);
    for (let i = this.head; i < this.held.length; i++) bySeq.set(this.held[i]!.record.seq, this.held[i]!.record);
    this.pending = [...bySeq.values()].sort((x, y) => x.seq - y.seq);
    this.next = 0;
    this.held = [];
    this.head = 0;
    this.bytes = 0;
  }

  /** The link is gone: what was re-sent without acknowledgement is sent again on the next one. */
  rewind(): void {
    if (this.unacked.size > 0 || this.next > 0) {
      this.pending = this.pending.slice(this.next).concat([...this.unacked.values()]).sort((x, y) => x.seq - y.seq);
      this.next = 0;
      this.unacked.clear();
    }
  }

  get waiting(): number {
    return this.pending.length - this.next;
  }

  /** Up to `n` records to re-send now (then `settled()` or, on a lost link, `rewind()`). */
  take(n: number): QueueRecord[] {
    const out = this.pending.slice(this.next, this.next + Math.max(0, n));
    this.next += out.length;
    for (const r of out) this.unacked.set(r.seq, r);
    if (this.next === this.pending.length) {
      this.pending = [];
      this.next = 0;
    }
    return out;
  }

  /** A re-sent record's outcome on the current link: handed over again, or refused (kept no longer). */
  settled(record: QueueRecord, handedOver: boolean): void {
    if (!this.unacked.delete(record.seq)) return;
    if (handedOver) this.acknowledged(record);
  }

  /** The broker said "later" (0x91, 0x97): the record goes back into the pending ones, in order. */
  retry(record: QueueRecord): void {
    if (!this.unacked.delete(record.seq)) return;
    this.pending = this.pending.slice(this.next).concat(record).sort((x, y) => x.seq - y.seq);
    this.next = 0;
  }

  /** Drops from the front what is over a limit; the newest records are the ones at risk. */
  private trim(): void {
    const oldest = this.now() - this.limits.ms;
    while (this.head < this.held.length) {
      const h = this.held[this.head]!;
      const over = this.held.length - this.head > this.limits.records || this.bytes > this.limits.bytes || h.at < oldest;
      if (!over) break;
      this.bytes -= h.record.payload.length;
      this.head++;
    }
    // Compact now and then so that the array does not grow with the stream.
    if (this.head > 1024 && this.head * 2 > this.held.length) {
      this.held = this.held.slice(this.head);
      this.head = 0;
    }
  }
}
