/**
 * One OPC UA subscription for one otb-opcua-in's tag list, on the endpoint's shared session.
 *
 * - One Signal[] batch per publishing cycle: the batch is built from the subscription's raw
 *   NotificationMessage (clientHandle -> tag), not from one event per item, which is both the
 *   cheapest path through node-opcua and exactly "one message per publishing cycle".
 * - Tags are created in groups of identical monitoring parameters, one CreateMonitoredItems
 *   call per group, so 2,000 tags do not flood a PLC with 2,000 calls (node-opcua#640).
 * - A tag the server refuses (unknown node id, filter not allowed) becomes a bad Signal with
 *   `opcua:<StatusCode>` once, and the others keep flowing.
 * - Republished or re-sent notifications are not emitted twice: a notification sequence number
 *   already seen, or a sample equal to the last one emitted for that tag (same source time,
 *   value and status), is dropped and counted.
 */
import { EventEmitter } from "events";
import {
  AttributeIds,
  ClientMonitoredItemGroup,
  DataChangeFilter,
  DataChangeTrigger,
  DeadbandType,
  StatusCodes,
  TimestampsToReturn,
  resolveNodeId,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type MonitoringParametersOptions,
  type NotificationMessage,
  type ReadValueIdOptions,
} from "node-opcua";
import type { Signal } from "../shared";
import { bounded } from "../otb-opcua-endpoint/opcua-endpoint";
import { badSignal, toSignal, type SourceInfo } from "./signal-mapping";
import type { TagDef } from "./tag-list";

export interface SubscriptionOptions {
  publishingIntervalMs: number;
  /** The server sends a keep-alive after this long without data; sets maxKeepAliveCount. */
  keepAliveMs: number;
}

export interface SubscriptionCounters {
  values: number;
  batches: number;
  duplicates: number;
  badTags: number;
}

interface LastSample {
  ts: number;
  value: unknown;
  status: number;
}

const SEEN_WINDOW = 256;

/**
 * Events: "batch" (signals: Signal[]) for data, "tag-errors" (signals: Signal[]) for tags the
 * server refused, "error" is never emitted (failures reject start()).
 */
export class TagSubscription extends EventEmitter {
  readonly counters: SubscriptionCounters = { values: 0, batches: 0, duplicates: 0, badTags: 0 };
  private subscription: ClientSubscription | null = null;
  private byHandle = new Map<number, number>();
  private groups: ClientMonitoredItemGroup[] = [];
  private groupTags: number[][] = [];
  private last: Array<LastSample | undefined>;
  private seen = new Set<number>();
  private seenOrder: number[] = [];
  private subscriptionId = 0;
  private stopped = false;
  /** Time of the last publish response, data or keep-alive: a stalled subscription shows here. */
  lastResponseAt = 0;

  constructor(
    readonly tags: readonly TagDef[],
    private readonly options: SubscriptionOptions,
    private readonly source: SourceInfo,
  ) {
    super();
    this.last = new Array(tags.length);
  }

  get active(): boolean {
    return this.subscription !== null && !this.stopped;
  }

  /** Creates the subscription and its monitored items on `session`. */
  async start(session: ClientSession): Promise<void> {
    this.stopped = false;
    const interval = this.options.publishingIntervalMs;
    const keepAliveCount = Math.max(2, Math.ceil(this.options.keepAliveMs / interval));
    const subscription = await session.createSubscription2({
      requestedPublishingInterval: interval,
      requestedMaxKeepAliveCount: keepAliveCount,
      // Lifetime well beyond a network break, so the server keeps it for Republish/transfer.
      requestedLifetimeCount: Math.max(keepAliveCount * 3, Math.ceil(120_000 / interval)),
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 10,
    });
    this.subscription = subscription;
    this.subscriptionId = subscription.subscriptionId;
    this.lastResponseAt = Date.now();
    subscription.on("raw_notification", (m: NotificationMessage) => this.onNotification(m));
    subscription.on("subscriptionId_changed", () => this.resetSequence());

    const now = Date.now();
    const refused: Signal[] = [];
    const buckets = new Map<string, number[]>();
    this.tags.forEach((tag, i) => {
      try {
        resolveNodeId(tag.nodeId);
      } catch {
        refused.push(badSignal(tag, "opcua:BadNodeIdInvalid", this.source, now));
        return;
      }
      const key = `${tag.samplingInterval}|${tag.deadbandType}|${tag.deadband}|${tag.queueSize}`;
      const list = buckets.get(key) ?? [];
      list.push(i);
      buckets.set(key, list);
    });
    for (const indices of buckets.values()) {
      const params = monitoringParameters(this.tags[indices[0]]);
      const items: ReadValueIdOptions[] = indices.map((i) => ({ nodeId: resolveNodeId(this.tags[i].nodeId), attributeId: AttributeIds.Value }));
      const group = ClientMonitoredItemGroup.create(subscription, items, params, TimestampsToReturn.Both);
      const failure = await initialized(group, this.options.keepAliveMs * 2 + 10_000);
      if (failure?.equals(StatusCodes.BadTimeout)) throw new Error("CreateMonitoredItems got no answer (BadTimeout)");
      this.groups.push(group);
      this.groupTags.push(indices);
      group.monitoredItems.forEach((item, k) => {
        const status = failure && indices.length === 1 ? failure : item.statusCode;
        if (status && status.isGood()) this.byHandle.set(item.monitoringParameters.clientHandle, indices[k]);
        else refused.push(badSignal(this.tags[indices[k]], `opcua:${status?.name ?? "BadUnexpectedError"}`, this.source, now));
      });
    }
    this.counters.badTags = refused.length;
    if (refused.length > 0) this.emit("tag-errors", refused);
  }

  /** Deletes the subscription on the server (when the session is still there). */
  async stop(): Promise<void> {
    this.stopped = true;
    const s = this.subscription;
    this.subscription = null;
    this.groups = [];
    this.groupTags = [];
    this.byHandle.clear();
    if (s) {
      s.removeAllListeners("raw_notification");
      // Bounded: on a dead link the server cannot answer, and close must not hang.
      await bounded(s.terminate(), 2_000);
    }
  }

  /** Forgets the subscription without talking to the server (its session is gone). */
  abandon(): void {
    this.stopped = true;
    this.subscription?.removeAllListeners("raw_notification");
    this.subscription = null;
    this.groups = [];
    this.groupTags = [];
    this.byHandle.clear();
    this.resetSequence();
  }

  /** Every tag, bad with `reason`: what downstream sees when the link is lost. */
  allBad(reason: string): Signal[] {
    const now = Date.now();
    return this.tags.map((t) => badSignal(t, reason, this.source, now));
  }

  private onNotification(message: NotificationMessage): void {
    if (this.stopped) return;
    this.lastResponseAt = Date.now();
    const subscriptionId = this.subscription?.subscriptionId ?? 0;
    if (subscriptionId !== this.subscriptionId) {
      this.subscriptionId = subscriptionId;
      this.resetSequence();
    }
    const data = message.notificationData;
    if (!data || data.length === 0) return; // keep-alive
    const seq = message.sequenceNumber;
    if (this.seen.has(seq)) {
      this.counters.duplicates++;
      return;
    }
    this.remember(seq);
    const now = Date.now();
    const batch: Signal[] = [];
    for (const n of data) {
      const items = (n as { monitoredItems?: Array<{ clientHandle: number; value: DataValue }> }).monitoredItems;
      if (!items) continue;
      for (const item of items) {
        let index = this.byHandle.get(item.clientHandle);
        if (index === undefined) index = this.rebuildHandles(item.clientHandle);
        if (index === undefined) continue;
        const dv = item.value;
        const ts = dv.sourceTimestamp?.getTime() ?? 0;
        const status = dv.statusCode?.value ?? 0;
        const value = dv.value?.value;
        const prev = this.last[index];
        if (prev && ts !== 0 && prev.ts === ts && prev.status === status && sameValue(prev.value, value)) {
          this.counters.duplicates++;
          continue;
        }
        this.last[index] = { ts, value, status };
        batch.push(toSignal(this.tags[index], dv, this.source, now));
      }
    }
    if (batch.length === 0) return;
    this.counters.values += batch.length;
    this.counters.batches++;
    this.emit("batch", batch);
  }

  /** Client handles change when node-opcua re-creates monitored items after a reconnect. */
  private rebuildHandles(handle: number): number | undefined {
    this.byHandle.clear();
    this.groups.forEach((group, g) => {
      group.monitoredItems.forEach((item, k) => {
        if (item.statusCode?.isGood() ?? true) this.byHandle.set(item.monitoringParameters.clientHandle, this.groupTags[g][k]);
      });
    });
    return this.byHandle.get(handle);
  }

  private remember(seq: number): void {
    this.seen.add(seq);
    this.seenOrder.push(seq);
    if (this.seenOrder.length > SEEN_WINDOW) this.seen.delete(this.seenOrder.shift()!);
  }

  private resetSequence(): void {
    this.seen.clear();
    this.seenOrder = [];
  }
}

export function monitoringParameters(tag: TagDef): MonitoringParametersOptions {
  const params: MonitoringParametersOptions = {
    samplingInterval: tag.samplingInterval,
    queueSize: tag.queueSize,
    discardOldest: true,
  };
  if (tag.deadbandType !== "none" && tag.deadband > 0) {
    params.filter = new DataChangeFilter({
      trigger: DataChangeTrigger.StatusValue,
      deadbandType: tag.deadbandType === "percent" ? DeadbandType.Percent : DeadbandType.Absolute,
      deadbandValue: tag.deadband,
    });
  }
  return params;
}

/**
 * Resolves when the group's CreateMonitoredItems call has answered, with the failure if any;
 * bounded, because on a link that dies mid-call the answer may never come.
 */
function initialized(group: ClientMonitoredItemGroup, timeoutMs: number): Promise<import("node-opcua").StatusCode | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(StatusCodes.BadTimeout), timeoutMs);
    group.once("initialized", () => {
      clearTimeout(timer);
      resolve(null);
    });
    group.once("terminated", (err: Error | undefined) => {
      clearTimeout(timer);
      const name = /Bad[A-Za-z]+/.exec(err?.message ?? "")?.[0];
      resolve(name && name in StatusCodes ? (StatusCodes as unknown as Record<string, import("node-opcua").StatusCode>)[name] : StatusCodes.BadUnexpectedError);
    });
  });
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return false;
}
