/**
 * One OPC UA subscription for one otb-opcua-in's tag list, on the endpoint's shared session.
 *
 * - One Signal[] batch per publishing cycle: the batch is built from the subscription's raw
 *   NotificationMessage (clientHandle -> tag), not from one event per item, which is both the
 *   cheapest path through node-opcua and exactly "one message per publishing cycle".
 * - Tags are created in groups of identical monitoring parameters, one CreateMonitoredItems
 *   call per group, so 2,000 tags do not flood a PLC with 2,000 calls (node-opcua#640), and no
 *   call larger than the server's MaxMonitoredItemsPerCall (Part 5 §6.3.11 OperationLimits): a
 *   server refuses a larger one as a whole (BadTooManyOperations), every tag of it bad.
 * - A tag the server refuses (unknown node id, filter not allowed) becomes a bad Signal with
 *   `opcua:<StatusCode>` once, and the others keep flowing.
 * - Republished or re-sent notifications are not emitted twice, and nothing a new subscription
 *   instance on the server sends is taken for a duplicate (duplicate-filter.ts).
 * - Every tag is owed a value at subscription start and after an outage (`markLost`). Servers
 *   should send the initial value of every monitored item (Part 4 §5.12.1.2), but some do not,
 *   and a tag that never changes then stays unknown; whatever is still owed `initialValueMs`
 *   after the subscription's first answer is Read once and emitted.
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
  VariableIds,
  resolveNodeId,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type MonitoringParametersOptions,
  type NotificationMessage,
  type ReadValueIdOptions,
} from "node-opcua-client";
import type { Signal } from "../shared";
import { bounded } from "../otb-opcua-endpoint/opcua-endpoint";
import { badSignal, toSignal, type SourceInfo } from "./signal-mapping";
import { DuplicateFilter } from "./duplicate-filter";
import type { TagDef } from "./tag-list";
// Checked element access: tag indices come from this subscription's own maps, so a miss is a bug.
import { at } from "../shared/checked";

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
  /** New subscription instances detected (restart, re-creation): each reset the dedupe state. */
  instances: number;
  /** Values obtained by a Read because the server had not sent them. */
  readValues: number;
  /** Items in notifications for a client handle we do not know: counted, never silently lost. */
  unknownHandles: number;
}

const READ_CHUNK = 200;

/**
 * Events: "batch" (signals: Signal[]) for data, "tag-errors" (signals: Signal[]) for tags the
 * server refused, "error" is never emitted (failures reject start()).
 */
export class TagSubscription extends EventEmitter {
  readonly counters: SubscriptionCounters = { values: 0, batches: 0, duplicates: 0, badTags: 0, instances: 0, readValues: 0, unknownHandles: 0 };
  private subscription: ClientSubscription | null = null;
  private byHandle = new Map<number, number>();
  private groups: ClientMonitoredItemGroup[] = [];
  /** What the server granted at CreateSubscription, when it said. */
  private revised: { intervalMs: number; keepAliveCount: number } | null = null;
  /** Nodes per Read: READ_CHUNK, or less when the server's MaxNodesPerRead says so. */
  private readChunk = READ_CHUNK;
  private groupTags: number[][] = [];
  private readonly filter: DuplicateFilter;
  private subscriptionId = 0;
  private stopped = false;
  private session: ClientSession | null = null;
  /** False while the monitored items are being created: notifications wait in `early`. */
  private ready = false;
  private early: NotificationMessage[] = [];
  /** Tags owed a value downstream (start, outage); Read if the server does not send them. */
  private owed = new Set<number>();
  private refreshTimer: NodeJS.Timeout | null = null;
  /** Bumped whenever what is owed changes meaning (start, outage, new instance): a Read begun before is stale. */
  private epoch = 0;
  /** False from start and from an outage until the first publish response ("answered" event). */
  answered = false;
  /** Time of the last publish response, data or keep-alive: a stalled subscription shows here. */
  lastResponseAt = 0;

  constructor(
    readonly tags: readonly TagDef[],
    private readonly options: SubscriptionOptions,
    private readonly source: SourceInfo,
  ) {
    super();
    this.filter = new DuplicateFilter(tags.length);
  }

  get active(): boolean {
    return this.subscription !== null && !this.stopped;
  }

  /** The publishing interval the server granted (Part 4 §5.13.2: it may revise the one asked for). */
  get publishingIntervalMs(): number {
    return this.revised?.intervalMs ?? this.options.publishingIntervalMs;
  }

  /**
   * How long a subscription with nothing to report stays quiet: the revised publishing interval
   * times the revised keep-alive count; a server with a minimum interval of seconds makes this far
   * longer than asked.
   */
  get keepAlivePeriodMs(): number {
    return this.revised ? this.revised.intervalMs * this.revised.keepAliveCount : this.options.keepAliveMs;
  }

  /** How long after start or recovery a tag may go without a value before it is Read. */
  get initialValueMs(): number {
    return 2 * this.publishingIntervalMs + this.options.keepAliveMs;
  }

  /** Creates the subscription and its monitored items on `session`. */
  async start(session: ClientSession): Promise<void> {
    this.stopped = false;
    this.answered = false;
    this.ready = false;
    this.early = [];
    this.session = session;
    this.newInstance();
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
    const granted = { intervalMs: Number(subscription.publishingInterval), keepAliveCount: Number(subscription.maxKeepAliveCount) };
    this.revised = granted.intervalMs > 0 && granted.keepAliveCount > 0 ? granted : null;
    this.lastResponseAt = Date.now();
    subscription.on("raw_notification", (m: NotificationMessage) => this.onNotification(m));
    subscription.on("subscriptionId_changed", () => this.newInstance("the subscription id changed"));

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
    const limits = await operationLimits(session);
    this.readChunk = limits.nodesPerRead > 0 ? Math.min(READ_CHUNK, limits.nodesPerRead) : READ_CHUNK;
    const perCall = limits.itemsPerCall > 0 ? limits.itemsPerCall : Infinity;
    const calls: number[][] = [];
    for (const indices of buckets.values()) {
      for (let i = 0; i < indices.length; i += perCall === Infinity ? indices.length : perCall) calls.push(indices.slice(i, i + perCall));
    }
    for (const indices of calls) {
      const params = monitoringParameters(at(this.tags, at(indices, 0)));
      const items: ReadValueIdOptions[] = indices.map((i) => ({ nodeId: resolveNodeId(at(this.tags, i).nodeId), attributeId: AttributeIds.Value }));
      const group = ClientMonitoredItemGroup.create(subscription, items, params, TimestampsToReturn.Both);
      const failure = await initialized(group, this.options.keepAliveMs * 2 + 10_000);
      if (failure?.equals(StatusCodes.BadTimeout)) throw new Error("CreateMonitoredItems got no answer (BadTimeout)");
      this.groups.push(group);
      this.groupTags.push(indices);
      group.monitoredItems.forEach((item, k) => {
        const status = failure && indices.length === 1 ? failure : item.statusCode;
        // One monitored item per requested id, in order (ClientMonitoredItemGroup.create).
        const index = at(indices, k);
        if (status && status.isGood()) this.byHandle.set(item.monitoringParameters.clientHandle, index);
        else refused.push(badSignal(at(this.tags, index), `opcua:${status?.name ?? "BadUnexpectedError"}`, this.source, now));
      });
    }
    this.counters.badTags = refused.length;
    if (refused.length > 0) this.emit("tag-errors", refused);
    this.owed = new Set(this.byHandle.values());
    this.ready = true;
    const early = this.early;
    this.early = [];
    for (const m of early) this.onNotification(m);
    this.scheduleRefresh();
  }

  /** Downstream was told every tag is lost: each is owed a value again, even an unchanged one. */
  markLost(): void {
    this.epoch++;
    this.answered = false;
    this.owed = new Set(this.byHandle.values());
  }

  /**
   * Reads, once, the tags still owed a value `initialValueMs` from now, but only after the
   * subscription has answered at least once since: until then the server has had no chance to
   * send the initial values, and a Read would only duplicate them (checked up to 10 times).
   */
  scheduleRefresh(): void {
    this.epoch++;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    const scheduledAt = Date.now();
    let tries = 0;
    const fire = (): void => {
      this.refreshTimer = null;
      if (this.lastResponseAt < scheduledAt && ++tries < 10) {
        this.refreshTimer = setTimeout(fire, this.initialValueMs);
        this.refreshTimer.unref();
        return;
      }
      this.refresh().catch((err: unknown) => this.emit("refresh-failed", err));
    };
    this.refreshTimer = setTimeout(fire, this.initialValueMs);
    this.refreshTimer.unref();
  }

  private async refresh(): Promise<void> {
    const session = this.session;
    const owed = [...this.owed];
    const epoch = this.epoch;
    if (this.stopped || !session || owed.length === 0) return;
    // In chunks: a PLC's MaxNodesPerRead is often a few hundred, and node-opcua does not split a Read.
    const values: DataValue[] = [];
    for (let i = 0; i < owed.length; i += this.readChunk) {
      const chunk = owed.slice(i, i + this.readChunk).map((k) => ({ nodeId: resolveNodeId(at(this.tags, k).nodeId), attributeId: AttributeIds.Value }));
      values.push(...(await session.read(chunk)));
      if (this.stopped || session !== this.session) return;
    }
    // An outage or a new start while the Read was under way: its values may be older than what
    // the subscription delivers next, and the next refresh decides again.
    if (this.stopped || session !== this.session || epoch !== this.epoch) return;
    const now = Date.now();
    const batch: Signal[] = [];
    owed.forEach((index, k) => {
      if (!this.owed.has(index)) return; // the subscription delivered it meanwhile
      const dv = at(values, k); // a Read answers every id it was sent, in order (Part 4 §5.10.2)
      this.owed.delete(index);
      this.filter.repeated(index, dv, true); // remembered, so the same sample arriving later is not emitted again
      batch.push(toSignal(at(this.tags, index), dv, this.source, now));
    });
    if (batch.length === 0) return;
    this.counters.readValues += batch.length;
    this.counters.values += batch.length;
    this.counters.batches++;
    this.emit("read-values", batch.length);
    this.emit("batch", batch);
  }

  /** Deletes the subscription on the server (when the session is still there). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.session = null;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
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
    this.session = null;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.subscription?.removeAllListeners("raw_notification");
    this.subscription = null;
    this.groups = [];
    this.groupTags = [];
    this.byHandle.clear();
  }

  /** Every tag, bad with `reason`: what downstream sees when the link is lost. */
  allBad(reason: string): Signal[] {
    const now = Date.now();
    return this.tags.map((t) => badSignal(t, reason, this.source, now));
  }

  private onNotification(message: NotificationMessage): void {
    if (this.stopped) return;
    this.lastResponseAt = Date.now();
    if (!this.answered) {
      this.answered = true;
      this.emit("answered");
    }
    const subscriptionId = this.subscription?.subscriptionId ?? 0;
    if (subscriptionId !== this.subscriptionId) {
      this.subscriptionId = subscriptionId;
      this.newInstance("the subscription id changed");
    }
    const data = message.notificationData;
    if (!data || data.length === 0) return; // keep-alive
    if (!this.ready) {
      this.early.push(message); // handles are known once CreateMonitoredItems has answered
      return;
    }
    const verdict = this.filter.message(message);
    if (verdict.duplicate) {
      this.counters.duplicates++;
      return;
    }
    if (verdict.newInstance) this.newInstance(verdict.newInstance);
    const now = Date.now();
    const batch: Signal[] = [];
    for (const n of data) {
      const items = (n as { monitoredItems?: Array<{ clientHandle: number; value: DataValue }> }).monitoredItems;
      if (!items) continue;
      for (const item of items) {
        let index = this.byHandle.get(item.clientHandle);
        if (index === undefined) index = this.rebuildHandles(item.clientHandle);
        if (index === undefined) {
          this.counters.unknownHandles++;
          continue;
        }
        // An owed tag is emitted even if unchanged: downstream last saw it lost (or never).
        if (this.filter.repeated(index, item.value, this.owed.has(index))) {
          this.counters.duplicates++;
          continue;
        }
        this.owed.delete(index);
        batch.push(toSignal(at(this.tags, index), item.value, this.source, now));
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
        if (item.statusCode?.isGood() ?? true) this.byHandle.set(item.monitoringParameters.clientHandle, at(at(this.groupTags, g), k));
      });
    });
    return this.byHandle.get(handle);
  }

  /** A new subscription instance on the server: nothing it sends is a duplicate of the old one's. */
  private newInstance(reason?: string): void {
    this.epoch++;
    this.filter.reset();
    if (reason) {
      this.counters.instances++;
      this.emit("new-instance", reason);
    }
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
function initialized(group: ClientMonitoredItemGroup, timeoutMs: number): Promise<import("node-opcua-client").StatusCode | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(StatusCodes.BadTimeout), timeoutMs);
    group.once("initialized", () => {
      clearTimeout(timer);
      resolve(null);
    });
    group.once("terminated", (err: Error | undefined) => {
      clearTimeout(timer);
      const name = /Bad[A-Za-z]+/.exec(err?.message ?? "")?.[0];
      const code = name && name in StatusCodes ? (StatusCodes as unknown as Record<string, import("node-opcua-client").StatusCode>)[name] : undefined;
      resolve(code ?? StatusCodes.BadUnexpectedError);
    });
  });
}

/**
 * The server's MaxMonitoredItemsPerCall and MaxNodesPerRead (Part 5 §6.3.11); 0 when the server
 * announces none (0 means "no limit" there too) or the Read fails: then calls are not split.
 */
async function operationLimits(session: ClientSession): Promise<{ itemsPerCall: number; nodesPerRead: number }> {
  const ids = [VariableIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall, VariableIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead];
  try {
    const values = await session.read(ids.map((id) => ({ nodeId: resolveNodeId(id), attributeId: AttributeIds.Value })));
    const limit = (dv: DataValue | undefined): number => {
      const v: unknown = dv?.statusCode.isGood() ? dv.value.value : 0;
      return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : 0;
    };
    return { itemsPerCall: limit(values[0]), nodesPerRead: limit(values[1]) };
  } catch {
    return { itemsPerCall: 0, nodesPerRead: 0 };
  }
}
