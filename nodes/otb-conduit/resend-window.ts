/**
 * At least once across a broker's loss (issue 19). A broker's acknowledgement (PUBACK, or for
 * Sparkplug's QoS 0 NDATA the write barrier's proof that it read the packet) hands a record
 * over, but a broker that goes down may lose what it had taken and not yet passed to its
 * subscribers: killed with SIGKILL (mosquitto without persistence, a cluster member alike), 16-18
 * of 9,000 records in two of ten runs of test/publish/failover.test.ts; and stopped with SIGTERM
 * under load with persistence on, Debian's mosquitto 2.0.11 acknowledged records during its
 * shutdown and delivered them to no subscriber, before or after its restart (up to 825+ in a row
 * in CI, 5 December). The queue has deleted them; the conduit cannot see the loss.
 *
 * So the last acknowledged records stay here, bounded (the conduit's re-send settings), and
 * after a link the broker's side ended (closed, reset, DISCONNECT, keepalive timeout) they are
 * sent again first on the next link, in queue order, before the queue's unacknowledged records:
 * to another broker (a failover) and to the same one alike, since a broker that restarted cannot
 * be told from a network break (mosquitto with persistence even reports our session present).
 * Consumers see duplicates instead of gaps. A link the conduit dropped itself (a protocol error,
 * a Sparkplug session restart) re-sends nothing to the same broker: that broker lived.
 *
 * A record re-sent to another broker and acknowledged there joins the window again (that broker
 * may die too); one re-sent to the same broker does not, so that a flapping link re-sends each
 * record at most once and new data always gets through (re-sends go first). One re-sent whose
 * acknowledgement was lost stays pending for the next link. The age limit counts back from the
 * loss, not from the reconnect: a broker down for a minute loses the same records as one down
 * for a second. Re-sent records are not new production: they are counted apart (`resent`), never
 * settled in the queue again, so recovered + produced = delivered + quarantined + dropped +
 * expired + queued still holds.
 */
import type { QueueRecord } from "./queue/record";

export interface ResendLimits {
  /** At most this many records (the conduit's "re-send" setting, 2,000 by default). */
  records: number;
  /** Records acknowledged longer than this before the link was lost are not re-sent (a broker forwards within ms). */
  ms: number;
  /** At most this many payload bytes held in memory. */
  bytes: number;
}

/**
 * Payload bytes held at most, whatever the record count: the window lives in memory, and 2,000
 * records of the largest message a conduit allows (256 KiB) would be 512 MiB.
 */
export const RESEND_MAX_BYTES = 16 * 1024 * 1024;

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
  /** When the last link was lost, and whether its broker may have lost what it acknowledged. */
  private lostAt: number | null = null;
  private atRisk = false;
  /** The current link is to another broker than the one before: what it takes again is held again. */
  private failedOver = false;

  constructor(private readonly limits: ResendLimits, private readonly now: () => number = Date.now) {}

  /** Records handed over to the broker (delivered, or a re-sent one acknowledged again). */
  acknowledged(record: QueueRecord): void {
    this.held.push({ record, at: this.now() });
    this.bytes += record.payload.length;
    this.trim();
  }

  /**
   * The link is gone. `brokerSide`: the broker or the network ended it (not the conduit), so the
   * broker may have lost what it acknowledged: the held records are re-sent on the next link.
   */
  lost(brokerSide: boolean): void {
    this.rewind();
    if (this.lostAt === null) this.lostAt = this.now();
    this.atRisk ||= brokerSide;
  }

  /**
   * A link is up to `broker`. After a link the broker's side ended, or on another broker than
   * the last one, everything held becomes pending, merged in queue order with what a lost link
   * left unacknowledged.
   */
  attach(broker: string): void {
    this.rewind();
    const moved = this.broker !== null && this.broker !== broker;
    const resend = moved || this.atRisk;
    this.broker = broker;
    this.failedOver = moved;
    const lostAt = this.lostAt;
    this.lostAt = null;
    this.atRisk = false;
    if (!resend) return;
    this.trim(lostAt ?? this.now());
    const bySeq = new Map<number, QueueRecord>();
    for (const r of this.pending) bySeq.set(r.seq, r);
    for (let i = this.head; i < this.held.length; i++) bySeq.set(this.held[i]!.record.seq, this.held[i]!.record);
    this.pending = [...bySeq.values()].sort((x, y) => x.seq - y.seq);
    this.next = 0;
    this.held = [];
    this.head = 0;
    this.bytes = 0;
  }

  /** What was re-sent without acknowledgement is sent again on the next link. */
  private rewind(): void {
    if (this.unacked.size > 0 || this.next > 0) {
      this.pending = this.pending.slice(this.next).concat([...this.unacked.values()]).sort((x, y) => x.seq - y.seq);
      this.next = 0;
      this.unacked.clear();
    }
  }

  get waiting(): number {
    return this.pending.length - this.next;
  }

  /** Up to `n` records to re-send now (then `settled()` or, on a lost link, `lost()`). */
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
    if (handedOver && this.failedOver) this.acknowledged(record);
  }

  /** The broker said "later" (0x91, 0x97): the record goes back into the pending ones, in order. */
  retry(record: QueueRecord): void {
    if (!this.unacked.delete(record.seq)) return;
    this.pending = this.pending.slice(this.next).concat(record).sort((x, y) => x.seq - y.seq);
    this.next = 0;
  }

  /** Drops from the front what is over a limit at time `at`; the newest records are the ones at risk. */
  private trim(at = this.now()): void {
    const oldest = at - this.limits.ms;
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
