/**
 * otb-publish: publishes what it receives through one otb-conduit, under the conduit's policy.
 * A message completes (Complete nodes fire) once its records are on disk in the conduit's
 * queue, not when the broker has them: the queue delivers them, through outages and restarts.
 * Refusals (policy, injection, size, invalid input, queue full with reject-new) are counted on
 * the conduit and reported with done(err), so a Catch node gets the message and the reasons.
 */
import { defineNode, type NodeContext, type NodeController } from "../shared/define-node";
import { ConfigError, ValidationError } from "../shared/errors";
import type { NodeAPI, NodeMessageInFlow } from "../shared/red";
import type { ConfigOf } from "../shared/schema";
import { buildTopic } from "../shared/sparkplug";
import type { Conduit, OtbConduitNode } from "../otb-conduit/conduit";
import type { OtbLineNode } from "../otb-line/line-config";
import { Publisher, type Refused } from "./publish-logic";
import { statusView } from "./publish-status";
import { schema } from "./schema";

/** The longest a stop waits for messages still arriving and their group commit. */
const DRAIN_MS = 2500;

type PublishFields = ConfigOf<typeof schema>;

class PublishController implements NodeController {
  private readonly publisher: Publisher;
  private last: { delivered: number; dropped: number };
  /** Every message handed to the conduit until it is on disk (or refused): a stop waits for them. */
  private readonly pending = new Set<Promise<void>>();
  private received = 0;

  constructor(private readonly ctx: NodeContext<PublishFields>, private readonly conduit: Conduit, private readonly line: OtbLineNode | null) {
    const c = ctx.config;
    const sp = conduit.cfg.sparkplug;
    this.publisher = new Publisher({
      topicMode: c.topicMode, template: c.template, rbe: c.rbe, deadband: c.deadband,
      sparkplugTopic: sp ? buildTopic({ group: sp.group, type: "NDATA", edgeNode: sp.edgeNode }) : null,
    }, conduit.policy);
    const s = conduit.stats();
    this.last = { delivered: s.delivered, dropped: s.dropped };
    conduit.connection.register(ctx.node, { onState: () => this.render() });
    ctx.every(1000, () => this.render());
  }

  input(msg: NodeMessageInFlow): Promise<void> {
    this.received++;
    const p = this.handle(msg as unknown as Record<string, unknown>);
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  async close(removed: boolean): Promise<void> {
    // Node-RED delivers a message on a later turn of the event loop than its send(): what an
    // upstream node sent just before a stop or deploy still arrives here after close began
    // (node-red removes the input listener only once close is done). Wait until a turn brings
    // no new message and everything received is on disk; only then let the conduit close.
    const end = Date.now() + DRAIN_MS;
    let seen = -1;
    while ((seen !== this.received || this.pending.size > 0) && Date.now() < end) {
      seen = this.received;
      await Promise.allSettled([...this.pending]);
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 1));
    }
    await this.conduit.connection.deregister(this.ctx.node, removed);
  }

  private async handle(msg: Record<string, unknown>): Promise<void> {
    const conduit = this.conduit;
    const prepared = this.publisher.prepare(msg.payload, { line: this.line ? this.line.identity() : null, topic: typeof msg.topic === "string" ? msg.topic : undefined });
    for (const r of prepared.refused) conduit.refuse(r.reason);
    let rejected = 0;
    if (prepared.records.length > 0) {
      const result = await conduit.submit(prepared.records);
      rejected = result.rejected;
      if (result.refusedAt) this.publisher.forget(prepared, result.refusedAt);
    }
    if (prepared.refused.length === 0 && rejected === 0) return;
    msg.refused = prepared.refused;
    throw new ValidationError(summarise(prepared.refused, rejected, prepared.records.length + prepared.refused.length, conduit.cfg.queue.fullPolicy));
  }

  private render(): void {
    const s = this.conduit.stats();
    const view = statusView(s, s.delivered > this.last.delivered, s.dropped > this.last.dropped);
    this.last = { delivered: s.delivered, dropped: s.dropped };
    if (view.kind === "flowing") this.ctx.status.flowing(view.text);
    else if (view.kind !== "keep") this.ctx.status[view.kind](view.text);
  }
}

function summarise(refused: Refused[], rejected: number, total: number, policy: string): string {
  const byReason = new Map<string, { n: number; example: string }>();
  for (const r of refused) {
    const e = byReason.get(r.reason) ?? { n: 0, example: r.detail };
    e.n++;
    byReason.set(r.reason, e);
  }
  const parts = [...byReason].map(([reason, e]) => `${reason} x${e.n} (${e.example.slice(0, 80)})`);
  if (rejected > 0) parts.push(`queue full (${policy}) x${rejected}`);
  return `refused ${refused.length + rejected} of ${total}: ${parts.join(", ")}`;
}

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    status: { idleAfterMs: 10_000 },
    create(ctx) {
      // The runner has checked the conduit is deployed and has no configuration error.
      const conduit = (RED.nodes.getNode(ctx.config.conduit) as unknown as OtbConduitNode).conduit;
      if (!conduit) throw new ConfigError("conduit: unavailable", { field: "conduit" });
      const line = ctx.config.line ? (RED.nodes.getNode(ctx.config.line) as unknown as OtbLineNode) : null;
      return new PublishController(ctx, conduit, line);
    },
  });
};
