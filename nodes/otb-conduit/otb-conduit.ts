/**
 * otb-conduit: the config node for one northbound conduit (DESIGN.md "Zones and conduits").
 * It owns the durable queue and the one MQTT connection its otb-publish nodes share. Its errors
 * reach the Catch nodes of its users (the nodes whose `conduit` field names it). A configuration
 * that breaks the zone rules (plaintext or MQTT 3.1.1 into L4/L5, a conduit going down) never
 * connects: defineNode reports it once after the flows started, and every user shows it.
 */
import { afterFlowsStart, defineNode, type NodeContext, type NodeController } from "../shared/define-node";
import { reportError } from "../shared/node-kit";
import type { Node, NodeAPI } from "../shared/red";
import { Conduit, type OtbConduitNode } from "./conduit";
import { parseConduitConfig, type ConduitDef, type ConduitSettings } from "./conduit-config";
import { describeBroker, type LinkFailure } from "../shared/link-failure";
import type { QueueRecord } from "./queue/record";
import { schema } from "./schema";
import { withConnectionUsers } from "./users";

/** How long a closing conduit waits for its closing users (otb-publish drains in well under this). */
const USERS_GONE_MS = 3000;

class ConduitController implements NodeController {
  private started = false;
  private readonly deferred: Array<() => void> = [];
  private readonly cancelStart: () => void;

  constructor(private readonly ctx: NodeContext<ConduitSettings>, private readonly conduit: Conduit) {
    const node = ctx.node as OtbConduitNode;
    Object.assign(node, { conduit, configError: null, users: withConnectionUsers(node.users, conduit.connection.users) });
    // A link failure found while the flows are still starting would reach no Catch node (they and
    // the users may not exist yet): its report waits for "flows:started" (2 s at most only when no
    // deploy start was seen, see deploy-state.ts).
    this.cancelStart = afterFlowsStart(ctx.RED, () => this.flowsStarted(), 2000);
    // Listeners stay for the conduit's life (not ctx.listen): a record quarantined while the
    // conduit closes is still reported.
    conduit.on("quarantined", (record: QueueRecord, reason: string) => {
      ctx.report(new Error(`quarantined ${record.topic}: ${reason}`), {
        topic: record.topic, payload: record.payload.toString("utf8"), quarantine: { reason, seq: record.seq, file: conduit.quarantine.file },
      });
    });
    conduit.on("fault", (err: Error) => ctx.report(err));
    conduit.on("link-down", (failure: LinkFailure) => this.whenStarted(() => this.linkDown(failure)));
    conduit.on("link-restored", (downMs: number, first: LinkFailure) => this.linkRestored(downMs, first));
  }

  /**
   * Node-RED closes a config node alongside its users, not after them (flows.stop). Records a
   * closing otb-publish still receives must find the queue open, so wait (bounded) for the users
   * to leave the connection; the queue's last commit then writes them. Well inside the 10 s.
   */
  async close(): Promise<void> {
    this.cancelStart();
    const end = Date.now() + USERS_GONE_MS;
    while (this.conduit.connection.userCount > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    await this.conduit.close();
  }

  private flowsStarted(): void {
    this.started = true;
    for (const f of this.deferred.splice(0)) f();
  }

  private whenStarted(f: () => void): void {
    if (this.started) f();
    else this.deferred.push(f);
  }

  /**
   * Once per outage, with the reason: Catch on every flow that uses the conduit, and the log.
   * With several brokers the report names the one that failed; the conduit is already trying the
   * next (mqtt-link.ts), and the log says which one took over once the link is stable.
   */
  private linkDown(failure: LinkFailure): void {
    const { conduit, ctx } = this;
    const s = conduit.stats();
    const broker = failure.broker ?? s.broker;
    const where = broker.count > 1 ? ` broker ${describeBroker(broker)}` : "";
    const next = broker.count > 1 ? "; failing over to the next broker" : "";
    const name = ctx.config.name || broker.url;
    reportAndLog(ctx.node, new Error(`conduit ${name}${where}: ${failure.message}${next}`), {
      payload: { conduit: ctx.config.name || ctx.node.id, broker: broker.url, brokers: conduit.cfg.urls, failure: failure.failure, reason: failure.summary, queued: s.queued },
    });
  }

  private linkRestored(downMs: number, first: LinkFailure): void {
    const now = this.conduit.stats().broker;
    const moved = first.broker && first.broker.url !== now.url ? `failed over from ${first.broker.url} to ${describeBroker(now)}` : `connection to ${describeBroker(now)} restored`;
    this.ctx.node.log(`${moved} after ${(downMs / 1000).toFixed(1)} s (${first.summary}); ${this.conduit.stats().queued} queued`);
  }
}

/**
 * Catch nodes, and one error line in the log whether or not a Catch took it: Node-RED's
 * node.error(err, msg) logs only when no Catch node handled the error (Node.prototype.error),
 * and an outage must always be in the log.
 */
function reportAndLog(node: Node, err: Error, msg: Record<string, unknown>): void {
  const flow = (node as unknown as { _flow?: { handleError?(n: Node, e: Error, m: unknown): boolean } })._flow;
  if (typeof flow?.handleError !== "function") return reportError(node, err, msg);
  flow.handleError(node, err, msg);
  node.error(err);
}

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    configNode: true,
    closeTimeoutMs: 10_000,
    create(ctx) {
      const conduit = new Conduit(parseConduitConfig(ctx.def as unknown as ConduitDef, ctx.credentials, ctx.userDir));
      return new ConduitController(ctx, conduit);
    },
    // Users find no conduit and the reason (otb-publish shows "config: conduit: <reason>").
    failed(node, err) {
      Object.assign(node as OtbConduitNode, { conduit: null, configError: err.message });
    },
  });
};
