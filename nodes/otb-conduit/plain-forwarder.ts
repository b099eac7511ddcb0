/**
 * Plain (UNS) forwarding: QoS 1 publishes from the durable queue, a bounded window in flight,
 * and a record deleted only when the broker acknowledged it with a success reason code.
 * - success (0x00, or 0x10 "no matching subscribers"): delivered;
 * - 0x91 (packet id in use) and 0x97 (quota exceeded) are the broker saying "later": the record
 *   goes back to the queue and sending pauses for a second;
 * - any other code >= 0x80 (0x87 not authorised, 0x95 packet too large, 0x99 payload format
 *   invalid, ...), or mqtt.js refusing the packet as larger than the broker's maximum: quarantine;
 * - no acknowledgement (the link dropped): the record stays queued and replays after reconnect;
 * - an acknowledgement mqtt.js cannot even parse (mosquitto's PUBACK 0x95 for an over-size
 *   publish is not a legal MQTT 5 PUBACK code): the link is rebuilt and the records that were in
 *   flight are re-sent one at a time; the one that breaks the link again alone is quarantined.
 *   Without this, one such record would loop through reconnects for ever.
 * After a link the broker's side ended, or a failover, the last acknowledged records are re-sent
 * first (resend-window.ts): a broker that went down may have acknowledged records it never passed on.
 */
import type { MqttClient } from "mqtt";
import type { DurableQueue } from "./queue/durable-queue";
import { RateLimiter } from "./rate-limiter";
import type { QueueRecord } from "./queue/record";
import { ResendWindow, type ResendLimits } from "./resend-window";

export interface ForwarderOptions {
  window: number;
  /** Messages per second; 0 = unlimited. */
  rateLimit: number;
  /** The re-send window after a lost link. */
  resend: ResendLimits;
  /** Resolves once the record is durably in quarantine (and settled). */
  onQuarantine(record: QueueRecord, reason: string): Promise<void> | void;
  /** Why the record may not be sent now (the policy at send time), or null. */
  recheck?(record: QueueRecord): string | null;
}

const RETRY_LATER = new Set([0x91, 0x97]);

export class PlainForwarder {
  private client: MqttClient | null = null;
  private generation = 0;
  private inflight = 0;
  private pausedUntil = 0;
  private pumpScheduled = false;
  private stopped = false;
  /** A publish callback may run inside pump() (mqtt.js fails a publish synchronously on a closing link). */
  private pumping = false;
  private wakeTimer: NodeJS.Timeout | null = null;
  private readonly limiter: RateLimiter;
  private readonly inFlightRecords = new Map<number, QueueRecord>();
  /** Records in flight when the broker broke the protocol; re-sent alone to find the culprit. */
  private readonly suspects = new Set<number>();
  private readonly poisoned = new Set<number>();
  /** The last acknowledged records, re-sent first after a lost link or a failover (issue 19). */
  readonly resend: ResendWindow;
  /**
   * Records in flight when a link dropped: sent once, fate unknown. When the queue replays them
   * they are counted as re-sent too, so that `resent` bounds the duplicates a consumer may see.
   */
  private readonly sentBefore = new Set<number>();

  constructor(private readonly queue: DurableQueue, private readonly opts: ForwarderOptions) {
    this.limiter = new RateLimiter(opts.rateLimit);
    this.resend = new ResendWindow(opts.resend);
    queue.on("committed", () => this.schedulePump());
  }

  get connected(): boolean {
    return this.client !== null;
  }

  /** `broker`: which broker the link is to (resend-window.ts decides what is sent again). */
  attach(client: MqttClient, broker = ""): void {
    this.generation++;
    this.client = client;
    this.inflight = 0;
    this.resend.attach(broker);
    this.queue.markLive();
    this.schedulePump();
  }

  /** `brokerSide`: the broker or the network ended the link, not the conduit (resend-window.ts). */
  detach(brokerSide = false): void {
    this.generation++;
    this.client = null;
    this.inflight = 0;
    for (const seq of this.inFlightRecords.keys()) this.sentBefore.add(seq);
    this.inFlightRecords.clear();
    this.resend.lost(brokerSide);
    this.queue.rewind();
  }

  /** The broker's last packet broke the protocol; called just before the link is dropped. */
  protocolError(err: Error): void {
    const [record] = this.inFlightRecords.values();
    if (record && this.inFlightRecords.size === 1 && this.suspects.size > 0) {
      this.suspects.delete(record.seq);
      this.quarantine(record, `broker answered with an invalid acknowledgement (${err.message}); e.g. mosquitto's PUBACK 0x95 for a packet over its size limit`);
      return;
    }
    for (const seq of this.inFlightRecords.keys()) this.suspects.add(seq);
  }

  /**
   * Sends nothing more and waits (at most `ms`) for the acknowledgements of what is in flight,
   * so that a stop leaves as few records as possible to be sent twice after the restart.
   */
  async quiesce(ms: number): Promise<void> {
    this.stopped = true;
    const end = Date.now() + ms;
    while (this.client && this.inflight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  }

  close(): void {
    this.stopped = true;
    this.detach();
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
  }

  schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    this.pumping = true;
    try {
      this.refill();
    } finally {
      this.pumping = false;
    }
  }

  private refill(): void {
    const client = this.client;
    if (!client || this.stopped) return;
    const now = Date.now();
    if (now < this.pausedUntil) return this.wakeAt(this.pausedUntil);
    // Refill in batches: one disk read per half window instead of one per acknowledgement.
    // While suspects remain, one record at a time, so that a protocol error names its culprit.
    const window = this.suspects.size > 0 ? 1 : this.opts.window;
    const room = window - this.inflight;
    if (room <= 0 || (this.inflight > 0 && room < Math.ceil(window / 2))) return;
    const allowed = this.limiter.take(room, now);
    if (allowed === 0) return this.wakeAt(now + this.limiter.retryInMs());
    const gen = this.generation;
    // MQTT 5 CONNACK may announce the largest packet the broker accepts; a bigger one would make
    // it drop the connection, and the record would loop through reconnects for ever.
    const maxPacket = (client as unknown as { connackPacket?: { properties?: { maximumPacketSize?: number } } }).connackPacket?.properties?.maximumPacketSize;
    // The re-sent window goes first, in order, before the queue's unacknowledged records; the
    // policy of now applies to it too, and what the new broker cannot take is not re-sent.
    const again = this.resend.take(allowed);
    for (const record of again) {
      if (this.opts.recheck?.(record) || (maxPacket && publishPacketSize(record) > maxPacket)) {
        this.resend.settled(record, false);
        continue;
      }
      this.inflight++;
      this.resend.resent++;
      client.publish(record.topic, record.payload, { qos: 1 }, (err) => this.onResendAck(gen, record, err));
    }
    if (this.resend.waiting > 0 || again.length === allowed) return;
    const records = this.queue.take(allowed - again.length);
    this.limiter.refund(allowed - again.length - records.length);
    for (const record of records) {
      if (this.poisoned.has(record.seq)) continue; // being quarantined; the settle resolves it
      const refusal = this.opts.recheck?.(record) ?? null;
      if (refusal) {
        this.quarantine(record, refusal);
        continue;
      }
      if (maxPacket && publishPacketSize(record) > maxPacket) {
        this.quarantine(record, `larger than the broker's maximum packet size ${maxPacket} (MQTT 5 CONNACK)`);
        continue;
      }
      this.inflight++;
      this.inFlightRecords.set(record.seq, record);
      if (this.sentBefore.delete(record.seq)) this.resend.resent++;
      client.publish(record.topic, record.payload, { qos: 1 }, (err) => this.onAck(gen, record, err));
    }
  }

  private onAck(gen: number, record: QueueRecord, err: Error | undefined): void {
    if (gen !== this.generation) return; // an old connection: its records were rewound already
    this.sentBefore.delete(record.seq);
    this.inflight--;
    this.inFlightRecords.delete(record.seq);
    if (!err || typeof (err as { code?: unknown }).code === "number") this.suspects.delete(record.seq);
    if (!err) {
      this.queue.settle(record.seq, "delivered");
      this.resend.acknowledged(record);
    } else {
      const code = (err as { code?: unknown }).code;
      if (typeof code === "number" && RETRY_LATER.has(code)) {
        this.queue.release(record.seq);
        this.pausedUntil = Date.now() + 1000;
      } else if (typeof code === "number" && code >= 0x80) {
        this.quarantine(record, `broker refused: reason code 0x${code.toString(16)} (${err.message})`);
      } else if (/exceed|too large/i.test(err.message)) {
        this.quarantine(record, `client refused: ${err.message}`);
      } else {
        return; // the link is going down; the record replays after the reconnect
      }
    }
    // Refill at once, inside the burst of acknowledgements one socket read brings: deferring it
    // (setImmediate) let the window run dry before every refill, so the broker and the conduit
    // took turns waiting for each other (replay ran at a third of raw mqtt.js).
    if (!this.pumping) this.pump();
  }

  /**
   * A re-sent record was delivered once already: the queue does not count it again. Refused now
   * (the new broker's ACL, its size limit) it is not re-sent again; without an acknowledgement
   * (the link dropped) it stays pending for the next link.
   */
  private onResendAck(gen: number, record: QueueRecord, err: Error | undefined): void {
    if (gen !== this.generation) return;
    this.inflight--;
    const code = (err as { code?: unknown } | undefined)?.code;
    if (err && typeof code !== "number" && !/exceed|too large/i.test(err.message)) return;
    if (typeof code === "number" && RETRY_LATER.has(code)) {
      this.resend.retry(record);
      this.pausedUntil = Date.now() + 1000;
    } else {
      this.resend.settled(record, !err || (typeof code === "number" && code < 0x80));
    }
    if (!this.pumping) this.pump();
  }

  /** While its quarantine write is under way, the record is not sent again (even after a rewind). */
  private quarantine(record: QueueRecord, reason: string): void {
    this.sentBefore.delete(record.seq);
    this.poisoned.add(record.seq);
    Promise.resolve(this.opts.onQuarantine(record, reason))
      .finally(() => {
        this.poisoned.delete(record.seq);
        this.schedulePump(); // a batch that was all quarantined leaves nothing in flight to wake us
      })
      .catch(() => undefined);
  }

  private wakeAt(t: number): void {
    if (this.wakeTimer) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.schedulePump();
    }, Math.max(1, t - Date.now()));
  }
}

/** Bytes of an MQTT 5 QoS 1 PUBLISH without properties, as the broker measures it. */
export function publishPacketSize(record: QueueRecord): number {
  const remaining = 2 + Buffer.byteLength(record.topic) + 2 + 1 + record.payload.length;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}
