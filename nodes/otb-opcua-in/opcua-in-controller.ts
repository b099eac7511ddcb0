/**
 * The life of one otb-opcua-in's subscription on its endpoint's shared session: subscribe when
 * the session is up, once per outage every tag as bad `comm_lost`, a refused subscription
 * retried on its own, and a watchdog so that every stalled state ends in a report.
 */
import { ConfigError, toError } from "../shared/errors";
import type { NodeContext, NodeController } from "../shared/define-node";
import type { ConnectionState } from "../shared/shared-connection";
import type { Signal } from "../shared/types";
import { bounded, type OpcuaEndpoint } from "../otb-opcua-endpoint/opcua-endpoint";
import type { OpcuaInFields } from "./schema";
import type { TagDef } from "./tag-list";
import { TagSubscription } from "./tag-subscription";

/** How long the status keeps saying "resumed" after an outage. */
const RESUMED_TEXT_MS = 10_000;
const SUBSCRIBE_RETRY_MS = 10_000;

export class OpcuaInController implements NodeController {
  private readonly subscription: TagSubscription;
  private commLostSent = false;
  private outageSince = 0;
  private resumedAt = 0;
  private starting: Promise<void> | null = null;
  private startedOn: unknown = null;
  private closed = false;
  private retrying = false;
  private subscribeError = "";
  private inactiveSince = Date.now();
  private inactiveReported = false;
  /** Tags whose server queue overflowed, reported once each (values were lost at the server). */
  private readonly overflowReported = new Set<string>();
  private readonly requestTimeoutMs: number;
  /**
   * A connect or subscribe that neither succeeds nor fails: node-opcua's own timeouts normally
   * turn it into a failure (reported as an outage) well before this; the first connect may also
   * create the client certificate, which takes seconds on a busy machine.
   */
  private readonly noSubscriptionAfterMs: number;

  constructor(private readonly ctx: NodeContext<OpcuaInFields>, private readonly endpoint: OpcuaEndpoint, private readonly tags: TagDef[], publishingIntervalMs: number) {
    const settings = endpoint.settings;
    this.subscription = new TagSubscription(tags, { publishingIntervalMs, keepAliveMs: settings.keepAliveMs }, { device: settings.endpointUrl });
    this.requestTimeoutMs = settings.requestTimeoutMs;
    this.noSubscriptionAfterMs = Math.max(60_000, this.stallAfterMs);
    this.listenToSubscription();
    ctx.listen(endpoint, "link-lost", () => {
      this.sendCommLost("connection lost");
      ctx.status.down("connection lost, reconnecting");
    });
    ctx.listen(endpoint, "link-restored", () => {
      ctx.status.waiting("reconnected, waiting for data");
      this.subscription.scheduleRefresh();
    });
    ctx.every(Math.max(500, Math.min(settings.keepAliveMs, 5_000)), () => this.watchdog()).unref?.();
    endpoint.conn.register(ctx.node, { onState: (state, detail) => this.onState(state, detail) });
  }

  async close(removed: boolean): Promise<void> {
    this.closed = true;
    if (this.starting) await bounded(this.starting, this.endpoint.settings.requestTimeoutMs);
    // Always delete our subscription: a redeployed node creates its own, and two would duplicate data.
    await this.subscription.stop();
    await this.endpoint.conn.deregister(this.ctx.node, removed);
  }

  /**
   * No publish response for this long while the link looks up is a silent stall (node-opcua#1524):
   * three keep-alive periods as the server granted them (a server may revise the publishing
   * interval to seconds), plus one interval and a request timeout.
   */
  private get stallAfterMs(): number {
    const sub = this.subscription;
    return 3 * Math.max(this.endpoint.settings.keepAliveMs, sub.keepAlivePeriodMs) + sub.publishingIntervalMs + this.requestTimeoutMs;
  }

  private summary(): string {
    const bad = this.subscription.counters.badTags;
    return `${this.tags.length - bad} tags${bad ? `, ${bad} bad` : ""}`;
  }

  private send(msg: Record<string, unknown>): void {
    this.ctx.node.send(msg as never);
  }

  private listenToSubscription(): void {
    const { ctx, subscription } = this;
    const node = ctx.node;
    subscription.on("batch", (batch: Signal[]) => {
      const endsOutage = this.commLostSent;
      if (this.commLostSent) {
        this.commLostSent = false;
        this.resumedAt = Date.now();
        node.log(`data resumed after ${Math.round((this.resumedAt - this.outageSince) / 1000)} s without data`);
      }
      this.send({ payload: batch });
      // Values lost in the server's queue during an outage belong to that outage (reported once,
      // and comm_lost told downstream): the Signals still say opcua:Overflow, Catch is not told again.
      if (!endsOutage && !(this.resumedAt && Date.now() - this.resumedAt < RESUMED_TEXT_MS)) this.reportOverflow(batch);
      const resumed = this.resumedAt && Date.now() - this.resumedAt < RESUMED_TEXT_MS ? `resumed ${Math.round((this.resumedAt - this.outageSince) / 1000)}s outage, ` : "";
      ctx.status.flowing(`${resumed}${this.summary()}`);
    });
    subscription.on("answered", () => this.endpoint.confirm());
    subscription.on("new-instance", (reason: string) => node.log(`new subscription instance on the server (${reason}): duplicate detection restarted`));
    subscription.on("read-values", (n: number) => node.log(`${n} tag(s) had no value from the subscription ${subscription.initialValueMs} ms after start or recovery: read them`));
    subscription.on("refresh-failed", (err: unknown) => node.warn(`reading tags without a value failed: ${toError(err).message}`));
    subscription.on("tag-errors", (refused: Signal[]) => {
      this.send({ payload: refused });
      const list = refused.map((s) => `${s.tag} (${s.source.address}): ${s.reasons?.join(",")}`).join("; ");
      ctx.report(new ConfigError(`${refused.length} of ${this.tags.length} tag(s) refused: ${list}`.slice(0, 2000)), { payload: refused });
    });
  }

  /**
   * The server discarded values of these tags (Overflow bit): once per tag, so that a user learns
   * the queue size or the publishing interval is too small for how fast the value changes.
   */
  private reportOverflow(batch: Signal[]): void {
    const lost = [...new Set(batch.filter((s) => s.reasons?.includes("opcua:Overflow") && !this.overflowReported.has(s.tag)).map((s) => s.tag))];
    if (lost.length === 0) return;
    for (const t of lost) this.overflowReported.add(t);
    const list = lost.map((t) => `${t} (queueSize ${this.tags.find((d) => d.tag === t)?.queueSize ?? "?"})`).join(", ");
    this.ctx.report(new Error(`the server's queue overflowed and discarded values of ${list}: raise the queue size or lower the publishing interval`.slice(0, 2000)), { payload: batch });
  }

  /** Once per outage, every tag as bad `comm_lost`, so downstream knows rather than guesses. */
  private sendCommLost(why: string): void {
    if (this.commLostSent) return;
    this.commLostSent = true;
    this.outageSince = Date.now();
    this.subscription.markLost();
    this.send({ payload: this.subscription.allBad("comm_lost"), opcua: { event: "comm_lost", reason: why } });
  }

  private start(): void {
    const { ctx, subscription } = this;
    const session = this.endpoint.session;
    if (this.closed || !session || this.starting || (subscription.active && this.startedOn === session)) return;
    if (subscription.active) subscription.abandon(); // a new session: the old subscription died with the old one
    ctx.status.waiting("subscribing");
    this.starting = subscription
      .start(session)
      .then(() => {
        this.startedOn = session;
        this.subscribeError = "";
        if (!ctx.status.lastDataAt || this.commLostSent) ctx.status.waiting(`subscribed, ${this.summary()}`);
      })
      .catch((err: unknown) => {
        subscription.abandon();
        ctx.status.error("subscribe failed");
        // Once until a subscription succeeds, not on every retry.
        const message = `subscription: ${toError(err).message}`;
        if (message !== this.subscribeError) ctx.report(new Error(message), { payload: null });
        this.subscribeError = message;
        // A refused subscription (e.g. BadTooManySubscriptions) is retried on its own, without
        // disturbing the other nodes that share the session.
        if (!this.closed && !this.retrying) {
          this.retrying = true;
          ctx.after(SUBSCRIBE_RETRY_MS, () => {
            this.retrying = false;
            this.start();
          });
        }
      })
      .finally(() => (this.starting = null));
  }

  private onState(state: ConnectionState, detail?: string): void {
    if (this.closed) return;
    const status = this.ctx.status;
    if (state === "connecting") {
      if (!this.commLostSent) status.waiting(detail ? `connecting (${detail})` : "connecting");
    } else if (state === "connected") {
      this.start();
    } else if (state === "disconnected") {
      if (this.startedOn) this.sendCommLost(detail ?? "disconnected");
      this.subscription.abandon();
      this.startedOn = null;
      status.down(`disconnected${detail ? `: ${detail}` : ""}`.slice(0, 40));
    }
  }

  /**
   * Runs in every state, so every stalled state ends in a report: an outage is reported by the
   * endpoint when it begins, and a channel repair is bounded there (recoveryMaxMs); a
   * subscription that answers nothing at all (not even keep-alives) for `stallAfterMs` while
   * the link looks up restarts the session, again every `stallAfterMs` while it lasts, and the
   * outage is reported once; no subscription at all for `noSubscriptionAfterMs` without an
   * outage (a connect or subscribe that hangs) is reported.
   */
  private watchdog(): void {
    const { ctx, endpoint, subscription } = this;
    if (this.closed) return;
    const now = Date.now();
    if (subscription.active) {
      this.inactiveSince = now;
      this.inactiveReported = false;
    }
    // While node-opcua repairs the channel, the endpoint bounds the repair (recoveryMaxMs).
    if (endpoint.linkDown || this.starting) return;
    if (subscription.active) {
      const quiet = now - subscription.lastResponseAt;
      if (quiet <= this.stallAfterMs) return;
      const why = `subscription stalled: no publish response for ${Math.round(quiet / 1000)} s; restarting the OPC UA session`;
      ctx.node.warn(why);
      this.sendCommLost("subscription stalled");
      ctx.status.down("stalled, restarting session");
      endpoint.fail(why);
    } else if (!this.inactiveReported && !this.subscribeError && endpoint.outage === null && now - this.inactiveSince > this.noSubscriptionAfterMs) {
      this.inactiveReported = true;
      ctx.status.down("no subscription");
      ctx.report(new Error(`no subscription for ${Math.round((now - this.inactiveSince) / 1000)} s (endpoint ${endpoint.conn.state})`), { payload: null });
    }
  }
}
