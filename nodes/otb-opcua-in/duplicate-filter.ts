/**
 * Duplicate detection for one subscription instance on the server: notifications re-sent after a
 * reconnect (Republish, transferred subscriptions) are dropped, and nothing a new instance sends
 * is taken for a duplicate of the old one's.
 *
 * - A NotificationMessage is a duplicate when its sequence number was seen with the same content
 *   (`fingerprint`). The same number with other content, or a number below the highest seen, is a
 *   new instance (a server restarted and re-created the subscription with the same id, Part 4
 *   §5.13.2 lets it continue ids; a sequence number wrapped): the state is reset.
 * - A sample equal to the last one emitted for its tag (same source time, value and status) is a
 *   duplicate too, unless the caller says the tag is owed a value (downstream saw it lost).
 * Pure: no node-opcua calls, no timers.
 */
import type { DataValue, NotificationMessage } from "node-opcua-client";

/** Sequence numbers remembered per instance: far more than can be in flight across a reconnect. */
const SEEN_WINDOW = 256;

interface LastSample {
  ts: number;
  value: unknown;
  status: number;
}

export type MessageVerdict = { duplicate: true } | { duplicate: false; newInstance?: string };

export class DuplicateFilter {
  private seen = new Map<number, string>();
  private order: number[] = [];
  private maxSeq = 0;
  private last: Array<LastSample | undefined>;

  constructor(private readonly tagCount: number) {
    this.last = new Array(tagCount);
  }

  /** Forgets everything: a new subscription instance. */
  reset(): void {
    this.seen.clear();
    this.order = [];
    this.maxSeq = 0;
    this.last = new Array(this.tagCount);
  }

  /** Classifies a data NotificationMessage and remembers it; resets first when it starts a new instance. */
  message(message: NotificationMessage): MessageVerdict {
    const seq = message.sequenceNumber;
    const print = fingerprint(message);
    const seenAs = this.seen.get(seq);
    if (seenAs === print) return { duplicate: true };
    let newInstance: string | undefined;
    if (seenAs !== undefined) newInstance = `sequence number ${seq} came again with other content`;
    else if (this.maxSeq > 0 && seq < this.maxSeq) newInstance = `the sequence number went back from ${this.maxSeq} to ${seq}`;
    if (newInstance) this.reset();
    this.seen.set(seq, print);
    this.order.push(seq);
    this.maxSeq = Math.max(this.maxSeq, seq);
    if (this.order.length > SEEN_WINDOW) this.seen.delete(this.order.shift()!);
    return { duplicate: false, newInstance };
  }

  /** True when `dv` repeats the last sample emitted for tag `index` (and `owed` is false); else records it. */
  repeated(index: number, dv: DataValue, owed: boolean): boolean {
    const ts = dv.sourceTimestamp?.getTime() ?? 0;
    const status = dv.statusCode?.value ?? 0;
    const value = dv.value?.value;
    const prev = this.last[index];
    if (prev && !owed && ts !== 0 && prev.ts === ts && prev.status === status && sameValue(prev.value, value)) return true;
    this.last[index] = { ts, value, status };
    return false;
  }
}

/**
 * What tells a re-sent NotificationMessage from a new one with the same sequence number: the
 * publish time (node-opcua's server leaves it at its minimum), the item count, and the first and
 * last items' handle and timestamps. A re-send carries the same samples; a restarted
 * subscription carries new ones.
 */
export function fingerprint(message: NotificationMessage): string {
  const parts: number[] = [message.publishTime?.getTime() ?? 0];
  for (const n of message.notificationData ?? []) {
    const items = (n as { monitoredItems?: Array<{ clientHandle: number; value: DataValue }> }).monitoredItems ?? [];
    parts.push(items.length);
    const first = items[0];
    const last = items[items.length - 1];
    for (const item of first && last ? [first, last] : []) {
      parts.push(item.clientHandle, item.value.sourceTimestamp?.getTime() ?? 0, item.value.serverTimestamp?.getTime() ?? 0, item.value.sourcePicoseconds ?? 0);
    }
  }
  return parts.join(",");
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return false;
}
