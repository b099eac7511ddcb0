/**
 * otb-opcua-in: subscribes to a tag list through an otb-opcua-endpoint and emits one Signal[]
 * batch per publishing cycle. Node-RED glue only; the subscription logic is in
 * tag-subscription.ts and the OPC UA -> Signal mapping in signal-mapping.ts.
 */
import * as os from "os";
import * as path from "path";
import { ConfigError, getConfigNode, num, onClose, reportError, StatusReporter, toError, type ConnectionState, type Signal } from "../shared";
import type { Node, NodeAPI, NodeDef } from "../shared/red";
import type { OpcuaEndpointNode } from "../otb-opcua-endpoint/endpoint-config";
import { loadCatalog, parseTags, type TagDef } from "./tag-list";
import { TagSubscription } from "./tag-subscription";
import { bounded } from "../otb-opcua-endpoint/opcua-endpoint";

interface OpcuaInDef extends NodeDef {
  endpoint: string;
  tags: unknown;
  catalogPath?: string;
  publishingInterval?: string | number;
}

/** How long the status keeps saying "resumed" after an outage. */
const RESUMED_TEXT_MS = 10_000;
const SUBSCRIBE_RETRY_MS = 10_000;

export = function (RED: NodeAPI): void {
  const userDir = (): string => String((RED.settings as unknown as Record<string, unknown>).userDir || path.join(os.homedir(), ".node-red"));

  function OtbOpcuaIn(this: Node, def: OpcuaInDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusReporter(node, { idleAfterMs: 15_000 });
    let tags: TagDef[];
    const endpointNode = getConfigNode<OpcuaEndpointNode>(RED, def.endpoint);
    try {
      if (!endpointNode) throw new ConfigError("no OPC UA endpoint selected");
      if (endpointNode.configError || !endpointNode.endpoint) throw new ConfigError(`endpoint: ${endpointNode.configError ?? "not usable"}`);
      tags = def.catalogPath && String(def.catalogPath).trim() ? loadCatalog(String(def.catalogPath).trim(), userDir()) : parseTags(def.tags);
      if (tags.length === 0) throw new ConfigError("the tag list is empty");
    } catch (err) {
      status.error(toError(err).message.slice(0, 40));
      reportError(node, err, { payload: null });
      onClose(node, () => status.close());
      return;
    }
    const endpoint = endpointNode!.endpoint!;
    const settings = endpoint.settings;
    const publishingIntervalMs = num(def.publishingInterval, 1_000, 50, 3_600_000);
    const subscription = new TagSubscription(tags, { publishingIntervalMs, keepAliveMs: settings.keepAliveMs }, { device: settings.endpointUrl });
    let commLostSent = false;
    let outageSince = 0;
    let resumedAt = 0;
    let starting: Promise<void> | null = null;
    let startedOn: unknown = null;
    let closed = false;
    let retryTimer: NodeJS.Timeout | null = null;
    let subscribeError = "";

    const summary = (): string => {
      const bad = subscription.counters.badTags;
      return `${tags.length - bad} tags${bad ? `, ${bad} bad` : ""}`;
    };

    /** Once per outage, every tag as bad `comm_lost`, so downstream knows rather than guesses. */
    const sendCommLost = (why: string): void => {
      if (commLostSent) return;
      commLostSent = true;
      outageSince = Date.now();
      subscription.markLost();
      node.send({ payload: subscription.allBad("comm_lost"), opcua: { event: "comm_lost", reason: why } } as never);
    };

    subscription.on("batch", (batch: Signal[]) => {
      if (commLostSent) {
        commLostSent = false;
        resumedAt = Date.now();
        node.log(`data resumed after ${Math.round((resumedAt - outageSince) / 1000)} s without data`);
      }
      node.send({ payload: batch } as never);
      const resumed = resumedAt && Date.now() - resumedAt < RESUMED_TEXT_MS ? `resumed ${Math.round((resumedAt - outageSince) / 1000)}s outage, ` : "";
      status.flowing(`${resumed}${summary()}`);
    });
    subscription.on("answered", () => endpoint.confirm());
    subscription.on("new-instance", (reason: string) => node.log(`new subscription instance on the server (${reason}): duplicate detection restarted`));
    subscription.on("read-values", (n: number) => node.log(`${n} tag(s) had no value from the subscription ${subscription.initialValueMs} ms after start or recovery: read them`));
    subscription.on("refresh-failed", (err: unknown) => node.warn(`reading tags without a value failed: ${toError(err).message}`));
    subscription.on("tag-errors", (refused: Signal[]) => {
      node.send({ payload: refused } as never);
      const list = refused.map((s) => `${s.tag} (${s.source.address}): ${s.reasons?.join(",")}`).join("; ");
      reportError(node, new ConfigError(`${refused.length} of ${tags.length} tag(s) refused: ${list}`.slice(0, 2000)), { payload: refused });
    });

    const start = (): void => {
      const session = endpoint.session;
      if (closed || !session || starting || (subscription.active && startedOn === session)) return;
      if (subscription.active) subscription.abandon(); // a new session: the old subscription died with the old one
      status.waiting("subscribing");
      starting = subscription
        .start(session)
        .then(() => {
          startedOn = session;
          subscribeError = "";
          if (!status.lastDataAt || commLostSent) status.waiting(`subscribed, ${summary()}`);
        })
        .catch((err: unknown) => {
          subscription.abandon();
          status.error(`subscribe failed`);
          // Once until a subscription succeeds, not on every retry.
          const message = `subscription: ${toError(err).message}`;
          if (message !== subscribeError) reportError(node, new Error(message), { payload: null });
          subscribeError = message;
          // A refused subscription (e.g. BadTooManySubscriptions) is retried on its own, without
          // disturbing the other nodes that share the session.
          if (!closed && !retryTimer) {
            retryTimer = setTimeout(() => {
              retryTimer = null;
              start();
            }, SUBSCRIBE_RETRY_MS);
          }
        })
        .finally(() => (starting = null));
    };

    const onState = (state: ConnectionState, detail?: string): void => {
      if (closed) return;
      switch (state) {
        case "connecting":
          if (!commLostSent) status.waiting(detail ? `connecting (${detail})` : "connecting");
          break;
        case "connected":
          start();
          break;
        case "disconnected":
          if (startedOn) sendCommLost(detail ?? "disconnected");
          subscription.abandon();
          startedOn = null;
          status.down(`disconnected${detail ? `: ${detail}` : ""}`.slice(0, 40));
          break;
        default:
          break;
      }
    };
    const onLinkLost = (): void => {
      sendCommLost("connection lost");
      status.down("connection lost, reconnecting");
    };
    const onLinkRestored = (): void => {
      status.waiting("reconnected, waiting for data");
      subscription.scheduleRefresh();
    };
    endpoint.on("link-lost", onLinkLost);
    endpoint.on("link-restored", onLinkRestored);

    // The watchdog runs in every state, so every stalled state ends in a report: an outage is
    // reported by the endpoint when it begins, and a channel repair is bounded there
    // (recoveryMaxMs); a subscription that answers nothing at all (not even keep-alives) for
    // `stallAfterMs` while the link looks up is a silent stall (node-opcua#1524): the session is
    // restarted, again every `stallAfterMs` while it lasts, and the outage reported once; no
    // subscription at all for `noSubscriptionAfterMs` without an outage (a connect or subscribe
    // that hangs) is reported.
    const stallAfterMs = 3 * settings.keepAliveMs + publishingIntervalMs + settings.requestTimeoutMs;
    // A connect or subscribe that neither succeeds nor fails: node-opcua's own timeouts normally
    // turn it into a failure (reported as an outage) well before this; the first connect may also
    // create the client certificate, which takes seconds on a busy machine.
    const noSubscriptionAfterMs = Math.max(60_000, stallAfterMs);
    let inactiveSince = Date.now();
    let inactiveReported = false;
    const watchdog = setInterval(() => {
      if (closed) return;
      const now = Date.now();
      if (subscription.active) {
        inactiveSince = now;
        inactiveReported = false;
      }
      // While node-opcua repairs the channel, the endpoint bounds the repair (recoveryMaxMs).
      if (endpoint.linkDown || starting) return;
      if (subscription.active) {
        const quiet = now - subscription.lastResponseAt;
        if (quiet <= stallAfterMs) return;
        const why = `subscription stalled: no publish response for ${Math.round(quiet / 1000)} s; restarting the OPC UA session`;
        node.warn(why);
        sendCommLost("subscription stalled");
        status.down("stalled, restarting session");
        endpoint.fail(why);
      } else if (!inactiveReported && !subscribeError && endpoint.outage === null && now - inactiveSince > noSubscriptionAfterMs) {
        inactiveReported = true;
        const why = `no subscription for ${Math.round((now - inactiveSince) / 1000)} s (endpoint ${endpoint.conn.state})`;
        status.down("no subscription");
        reportError(node, new Error(why), { payload: null });
      }
    }, Math.max(500, Math.min(settings.keepAliveMs, 5_000)));
    watchdog.unref();

    endpoint.conn.register(node, { onState });

    onClose(node, async (removed: boolean) => {
      closed = true;
      clearInterval(watchdog);
      if (retryTimer) clearTimeout(retryTimer);
      endpoint.off("link-lost", onLinkLost);
      endpoint.off("link-restored", onLinkRestored);
      status.close();
      if (starting) await bounded(starting, settings.requestTimeoutMs);
      // Always delete our subscription: a redeployed node creates its own, and two would duplicate data.
      await subscription.stop();
      await endpoint.conn.deregister(node, removed);
    });
  }

  RED.nodes.registerType("otb-opcua-in", OtbOpcuaIn as unknown as (this: Node, def: NodeDef) => void);
};
