/**
 * otb-publish: publishes what it receives through one otb-conduit, under the conduit's policy.
 * A message completes (Complete nodes fire) once its records are on disk in the conduit's
 * queue, not when the broker has them: the queue delivers them, through outages and restarts.
 * Refusals (policy, injection, size, invalid input, queue full with reject-new) are counted on
 * the conduit and reported with done(err), so a Catch node gets the message and the reasons.
 */
import { ConfigError, StatusReporter, ValidationError, bool, getConfigNode, num, onClose, onInput } from "../shared";
import type { Node, NodeAPI, NodeDef } from "../shared/red";
import type { OtbConduitNode } from "../otb-conduit/conduit";
import type { OtbLineNode } from "../otb-line/line-config";
import { buildTopic } from "../shared/sparkplug";
import { isValidTemplate, Publisher, type Refused } from "./publish-logic";
import { statusView } from "./publish-status";

/** The longest a stop waits for messages still arriving and their group commit. */
const DRAIN_MS = 2500;

interface PublishDef extends NodeDef {
  conduit?: string;
  line?: string;
  topicMode?: string;
  template?: string;
  rbe?: string | boolean;
  deadband?: string | number;
}

export = function (RED: NodeAPI): void {
  function OtbPublish(this: Node, def: PublishDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusReporter(node, { idleAfterMs: 10_000 });
    const conduitNode = getConfigNode<OtbConduitNode>(RED, def.conduit);
    const lineNode = getConfigNode<OtbLineNode>(RED, def.line);
    const conduit = conduitNode?.conduit ?? null;
    const topicMode = def.topicMode === "template" ? "template" : "uns";
    const template = (def.template ?? "").trim();
    const problem = !conduitNode ? "no conduit configured"
      : conduitNode.configError ? `conduit: ${conduitNode.configError}`
      : topicMode === "template" && !isValidTemplate(template) ? `topic template "${template}" is not a safe topic`
      : null;
    if (problem || !conduit) {
      status.error(`config: ${problem ?? "conduit unavailable"}`.slice(0, 60));
      node.error(new ConfigError(problem ?? "conduit unavailable"), { payload: null });
      onInput(node, () => {
        throw new ConfigError(problem ?? "conduit unavailable");
      });
      onClose(node, () => status.close());
      return;
    }
    const sp = conduit.cfg.sparkplug;
    const publisher = new Publisher({
      topicMode, template,
      rbe: bool(def.rbe, false),
      deadband: num(def.deadband, 0, 0),
      sparkplugTopic: sp ? buildTopic({ group: sp.group, type: "NDATA", edgeNode: sp.edgeNode }) : null,
    }, conduit.policy);
    let lastDelivered = conduit.stats().delivered;
    let lastDropped = conduit.stats().dropped;
    const render = (): void => {
      const s = conduit.stats();
      const view = statusView(s, s.delivered > lastDelivered, s.dropped > lastDropped);
      lastDelivered = s.delivered;
      lastDropped = s.dropped;
      if (view.kind === "flowing") status.flowing(view.text);
      else if (view.kind === "keep") return;
      else status[view.kind](view.text);
    };
    conduit.connection.register(node, { onState: () => render() });
    const timer = setInterval(render, 1000);

    // Every message handed to the conduit until it is on disk (or refused): a stop waits for them.
    const pending = new Set<Promise<void>>();
    let received = 0;
    const handle = async (msg: Record<string, unknown>): Promise<void> => {
      const line = lineNode && !lineNode.configError ? lineNode.identity() : null;
      const prepared = publisher.prepare(msg.payload, { line, topic: typeof msg.topic === "string" ? msg.topic : undefined });
      for (const r of prepared.refused) conduit.refuse(r.reason);
      let rejected = 0;
      if (prepared.records.length > 0) {
        const result = await conduit.submit(prepared.records);
        rejected = result.rejected;
        if (result.refusedAt) publisher.forget(prepared, result.refusedAt);
      }
      if (prepared.refused.length === 0 && rejected === 0) return;
      msg.refused = prepared.refused;
      throw new ValidationError(summarise(prepared.refused, rejected, prepared.records.length + prepared.refused.length, conduit.cfg.queue.fullPolicy));
    };
    onInput(node, (msg) => {
      received++;
      const p = handle(msg as Record<string, unknown>);
      pending.add(p);
      void p.finally(() => pending.delete(p)).catch(() => undefined);
      return p;
    });

    onClose(node, async (removed) => {
      clearInterval(timer);
      // Node-RED delivers a message on a later turn of the event loop than its send(): what an
      // upstream node sent just before a stop or deploy still arrives here after close began
      // (node-red removes the input listener only once close is done). Wait until a turn brings
      // no new message and everything received is on disk; only then let the conduit close.
      const end = Date.now() + DRAIN_MS;
      let seen = -1;
      while ((seen !== received || pending.size > 0) && Date.now() < end) {
        seen = received;
        await Promise.allSettled([...pending]);
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setTimeout(r, 1));
      }
      status.close();
      await conduit.connection.deregister(node, removed);
    });
  }
  RED.nodes.registerType("otb-publish", OtbPublish as unknown as (this: Node, def: NodeDef) => void);
};

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
