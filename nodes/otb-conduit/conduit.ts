/**
 * One northbound conduit at run time, free of Node-RED so that it can be tested directly:
 * policy checks, the durable queue, the quarantine, one shared MQTT connection and the
 * forwarder that moves records from the queue to the broker (plain QoS 1, or Sparkplug B).
 *
 * Counters (stats()) keep the invariant recovered + produced = delivered + quarantined +
 * dropped + expired + queued; refusals happen before the queue and are counted separately.
 * Connection failures are classified (../shared/link-failure.ts) and announced once per outage (outage.ts).
 */
import { EventEmitter } from "events";
import type { MqttClient } from "mqtt";
import { SharedConnection } from "../shared/shared-connection";
import type { Node } from "../shared/red";
import { KIND_CODES, type ConduitConfig, type ConduitCredentials, type MessageKindName } from "./conduit-config";
import { classify, type BrokerPosition, type LinkFailure } from "../shared/link-failure";
import { mqttAdapter, type MqttAdapter } from "./mqtt-link";
import { OutageTracker } from "./outage";
import { PlainForwarder } from "./plain-forwarder";
import { DurableQueue, type AppendResult, type QueueCounters } from "./queue/durable-queue";
import { QuarantineLog } from "./queue/quarantine-log";
import type { QueueRecord, RecordInput } from "./queue/record";
import { SparkplugForwarder, type SparkplugCounters } from "./sparkplug-forwarder";
import { REFUSALS, TopicPolicy, type Refusal } from "./topic-policy";

const KIND_NAMES: Record<number, MessageKindName | undefined> =
  Object.fromEntries(Object.entries(KIND_CODES).map(([name, code]) => [code, name as MessageKindName]));

/** A lost link that had lasted at least this long moves to the next broker at once. */
const FAILOVER_AFTER_MS = 1000;

export interface Forwarder {
  readonly connected: boolean;
  attach(client: MqttClient): void;
  detach(brokerSide?: boolean): void;
  close(): void | Promise<void>;
}

export interface ConduitStats extends QueueCounters {
  state: string;
  /** Why the link is down (a short summary), while it is. */
  reason?: string;
  /** Records older than the queue's max age, dropped unsent (0 until the queue reports them). */
  expired: number;
  refused: Record<Refusal, number>;
  /** Connected with a backlog older than the live stream still draining. */
  replaying: boolean;
  /** The broker in use (or being tried): which of the configured ones. */
  broker: BrokerPosition;
  /**
   * Records sent again after a failover to another broker (issue 19: a killed broker may have
   * acknowledged records it never passed on). Not new production: outside the invariant.
   */
  resent: number;
  sparkplug?: SparkplugCounters;
}

export class Conduit extends EventEmitter {
  readonly policy: TopicPolicy;
  readonly queue: DurableQueue;
  readonly quarantine: QuarantineLog;
  readonly connection: SharedConnection<MqttClient>;
  readonly refused = Object.fromEntries(REFUSALS.map((r) => [r, 0])) as Record<Refusal, number>;
  private readonly forwarder: PlainForwarder | SparkplugForwarder;
  private readonly link: MqttAdapter;
  private current: MqttClient | null = null;
  private closing: Promise<void> | null = null;
  /** The conduit is dropping the link itself (the broker lived): nothing to re-send for that. */
  private droppingOwnLink = false;
  /**
   * Connection failures, one "link-down" event per outage (not per retry) and "link-restored"
   * once it is over; the current reason is in stats().reason for the status line.
   */
  readonly outage = new OutageTracker(5000, {
    down: (failure) => this.emit("link-down", failure),
    restored: (downMs, first) => this.emit("link-restored", downMs, first),
  });

  constructor(readonly cfg: ConduitConfig) {
    super();
    this.policy = new TopicPolicy(cfg.allowTopics, cfg.kinds, cfg.maxMessageBytes);
    this.queue = DurableQueue.open({ ...cfg.queue, onError: (err) => this.emit("fault", err) });
    try {
      this.quarantine = new QuarantineLog(cfg.queue.dir);
    } catch (err) {
      void this.queue.close();
      throw err;
    }
    const onQuarantine = (record: QueueRecord, reason: string): Promise<void> => this.toQuarantine(record, reason);
    this.forwarder = cfg.sparkplug
      ? new SparkplugForwarder(this.queue, cfg, {
          onRefusedCommand: (what) => this.emit("fault", new Error(`refused Sparkplug command: ${what}`)),
          onFault: (err) => this.emit("fault", err),
          onQuarantine,
          onRestartSession: () => this.restartSession(),
        })
      : new PlainForwarder(this.queue, { window: cfg.inflight, rateLimit: cfg.rateLimit, resend: cfg.resend, onQuarantine, recheck: (r) => this.recheck(r) });
    const sparkplug = this.forwarder instanceof SparkplugForwarder ? this.forwarder : null;
    // Every failed attempt carries its reason (and its broker); the tracker decides whether it starts an outage.
    const adapter = mqttAdapter(cfg, {
      connectOptions: sparkplug ? () => sparkplug.connectOptions() : undefined,
      onLost: (client, err) => {
        if (client !== this.current) return;
        if (!this.closing) this.outage.failed(classify(err));
        this.connection.lost(err);
        // Another member may be up: fail over now rather than after the backoff (issue 19). Only
        // after a link that lasted FAILOVER_AFTER_MS, so that members which accept and drop us at
        // once (session taken over, an ACL) still back off between rounds instead of spinning.
        if (cfg.urls.length > 1 && !this.closing) this.connection.retrySoon(FAILOVER_AFTER_MS);
      },
      onProtocolError: (client, err) => {
        // The conduit drops the link itself to find the culprit record: not an outage.
        if (client !== this.current) return;
        if (this.forwarder instanceof PlainForwarder) this.forwarder.protocolError(err);
        this.dropOwnLink(err);
      },
      onAttemptFailed: (failure) => {
        if (!this.closing) this.outage.failed(failure);
      },
      stopping: () => this.closing !== null,
    });
    this.link = adapter;
    this.connection = new SharedConnection<MqttClient>(adapter, { initialMs: 250, maxMs: cfg.reconnectMaxMs, factor: 2, jitter: 0.2 });
    this.connection.on("state", (state: string) => {
      if (state === "connected" && this.connection.client) {
        this.outage.connected();
        this.current = this.connection.client;
        this.forwarder.attach(this.current, this.link.broker.url);
      } else if (this.current) {
        this.current = null;
        this.forwarder.detach(!this.droppingOwnLink && !this.closing);
      }
    });
  }

  /** Counts refusals made before the queue (policy, injection, size, invalid input). */
  refuse(reason: Refusal, count = 1): void {
    this.refused[reason] += count;
  }

  /** Queues records durably; resolves after the group commit that wrote them. */
  submit(records: RecordInput[]): Promise<AppendResult> {
    return this.queue.append(records);
  }

  stats(): ConduitStats {
    const q = this.queue.snapshot();
    const state = this.connection.state;
    return {
      ...q,
      expired: (q as { expired?: number }).expired ?? 0,
      state,
      reason: state !== "connected" ? this.outage.current?.summary : undefined,
      refused: { ...this.refused },
      // A replay is a backlog beyond one in-flight window (an outage's or a restart's), not the
      // handful of records a healthy link under load always has between publish and PUBACK.
      replaying: this.forwarder.connected && q.queued > Math.max(this.cfg.inflight, q.inFlight),
      broker: this.link.broker,
      resent: this.forwarder.resend.resent,
      sparkplug: this.forwarder instanceof SparkplugForwarder ? this.forwarder.counters() : undefined,
    };
  }

  /**
   * Stops sending, waits up to `settleMs` for the acknowledgements of what is in flight (fewer
   * duplicates after a restart), then closes the link and the queue: the queue's last group
   * commit writes whatever was appended until now, and the resolved mark is persisted, so the
   * next start resumes from there (anything in flight unacknowledged replays: duplicates at
   * most one window).
   */
  close(settleMs = 1000): Promise<void> {
    this.closing ??= (async () => {
      this.outage.close();
      if (this.forwarder instanceof PlainForwarder) await this.forwarder.quiesce(settleMs);
      await this.forwarder.close();
      await this.connection.close();
      await this.queue.close();
    })();
    return this.closing;
  }

  /** The reason of the current outage, if any. */
  get linkFailure(): LinkFailure | null {
    return this.outage.current;
  }

  /** Sparkplug: the primary host went offline; NDEATH, disconnect and start over (spec 5.x). */
  private restartSession(): void {
    if (this.current) this.dropOwnLink(new Error("primary host offline: session restarted"));
  }

  private dropOwnLink(err: Error): void {
    this.droppingOwnLink = true;
    try {
      this.connection.lost(err);
    } finally {
      this.droppingOwnLink = false;
    }
  }

  /**
   * The policy again at send time: the allowlist, kinds or size limit may have been narrowed
   * since the record was queued (or the folder was filled in another mode); nothing leaves
   * that the conduit's current policy does not allow.
   */
  private recheck(record: QueueRecord): string | null {
    const kind = KIND_NAMES[record.kind];
    if (!kind) return `record kind ${record.kind} is not a message kind (was the queue written in Sparkplug mode?)`;
    const refusal = this.policy.check(record.topic, kind, record.payload.length);
    return refusal ? `no longer allowed by the conduit's policy: ${refusal}` : null;
  }

  private toQuarantine(record: QueueRecord, reason: string): Promise<void> {
    return this.quarantine.add(record, reason).then(
      () => {
        this.queue.settle(record.seq, "quarantined");
        this.emit("quarantined", record, reason);
      },
      (err: Error) => {
        this.emit("fault", new Error(`quarantine write failed, record ${record.seq} stays queued: ${err.message}`));
      },
    );
  }
}

/** What otb-publish finds when it looks up its otb-conduit config node. */
export interface OtbConduitNode extends Node {
  users: Record<string, Node>;
  conduit: Conduit | null;
  configError: string | null;
  credentials: ConduitCredentials;
}
