/**
 * The durable queue's public types: options, counters, and the payloads of its "full" and
 * "dropped" events (see durable-queue.ts for what they mean).
 */
export type FullPolicy = "drop-oldest" | "reject-new";
export type ReplayOrder = "in-order" | "live-first";

export interface QueueOptions {
  dir: string;
  maxBytes: number;
  commitIntervalMs: number;
  fullPolicy: FullPolicy;
  replayOrder?: ReplayOrder;
  /**
   * Default: an eighth of the smaller of maxBytes and the disk, between 4 KiB and 16 MiB, so
   * drop-oldest always has a sealed segment to free before the disk or the bound is reached.
   */
  segmentBytes?: number;
  /** Records whose timestamp is older than this many ms are expired, never published; 0 or absent: no limit. */
  maxAgeMs?: number;
  onError?: (err: Error) => void;
}

export interface QueueCounters {
  /** Records offered to append() by this process (accepted or refused). */
  produced: number;
  /** Valid unresolved records found on disk at open. */
  recovered: number;
  delivered: number;
  quarantined: number;
  /** Refused or deleted because the queue was full, per the full policy, or lost to a write error. */
  dropped: number;
  /** Older than maxAgeMs when their turn came: resolved without being published. */
  expired: number;
  /** Records lost to damaged queue files (found at open, or while reading). */
  corrupt: number;
  /** The part of `corrupt` found while running (those were counted in recovered or produced). */
  corruptLive: number;
  queued: number;
  inFlight: number;
  bytes: number;
  segments: number;
  /** At the size bound or the disk's limit: the full policy is being applied. */
  full: boolean;
}

/** Payload of the "full" event: emitted when the queue reaches its limit and when it has room again. */
export interface FullState {
  full: boolean;
  /** What the limit is: the configured bound or the disk the folder is on. */
  limit?: "bound" | "disk";
  policy: FullPolicy;
}

/** Payload of the "dropped" event: records resolved without being published, and why. */
export interface DropReport {
  reason: "drop-oldest" | "reject-new" | "write-failed" | "expired";
  count: number;
  /** Seq range, for drop-oldest (the oldest records deleted). */
  fromSeq?: number;
  toSeq?: number;
}

export interface AppendResult {
  accepted: number;
  rejected: number;
  /** Indexes (into the appended array) of the refused records, when there are any. */
  refusedAt?: number[];
}

/** The queue reached its limit (reported once per episode through onError). */
export class QueueFullError extends Error {
  constructor(message: string, readonly limit: "bound" | "disk") {
    super(message);
    this.name = "QueueFullError";
  }
}
