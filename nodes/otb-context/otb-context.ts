/**
 * otb-context: stamps Signal batches with their line's context (ISA-95 path, product, batch,
 * order, shift, operating mode) and their UNS topics; takes product/batch/order/mode from
 * context messages (an MES, an operator form, a schedule), keeps them across restarts, and
 * emits a ContextEvent on output 2 for every change.
 */
import {
  ConfigError,
  getConfigNode,
  isSafeTopicLevel,
  onClose,
  onInput,
  reportError,
  StatusReporter,
  unsLinePath,
  ValidationError,
  type Context,
  type ContextEvent,
  type Node,
  type NodeAPI,
  type NodeDef,
  type NodeMessage,
  type NodeMessageInFlow,
  type NodeSend,
  type Signal,
} from "../shared";
import type { OtbLineNode } from "../otb-line/line-config";
import { readContextConfig, type OtbContextDef } from "./context-config";
import { ContextFile, contextFilePath, loadContextFile } from "./context-file";
import { createModeDeriver } from "./mode";
import { ContextStamper, OPERATOR_FIELDS, type OperatorContext } from "./stamper";

/** Distinct tags whose topic strings are cached; beyond it topics are built per message. */
const TOPIC_CACHE_LIMIT = 10_000;

export = function (RED: NodeAPI): void {
  function OtbContext(this: Node, def: OtbContextDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusReporter(node, { idleAfterMs: 30_000 });
    let line: OtbLineNode | null = null;
    let stamper: ContextStamper | null = null;
    let file: ContextFile | null = null;
    let linePath = "";
    let contextTopic = "context";
    try {
      const settings = readContextConfig(def);
      contextTopic = settings.contextTopic;
      line = getConfigNode<OtbLineNode>(RED, settings.lineId);
      if (!line) throw new ConfigError("the chosen otb-line is not deployed");
      line.users[node.id] = node;
      if (line.configError) throw new ConfigError(`otb-line: ${line.configError}`);
      const identity: Context = line.identity();
      if (settings.cell) identity.cell = settings.cell;
      if (settings.asset) identity.asset = settings.asset;
      linePath = unsLinePath(identity);
      let initial: OperatorContext = {};
      const userDir = RED.settings.userDir as string | undefined;
      if (settings.persist && userDir) {
        const path = contextFilePath(userDir, node.id);
        file = new ContextFile(path, (err) => reportError(node, err, { payload: null, error: { message: `saving context: ${err.message}` } }));
        try {
          initial = loadContextFile(path);
        } catch (err) {
          reportError(node, new Error(`saved context ${path} is unreadable, starting empty: ${(err as Error).message}`));
        }
      } else if (settings.persist) {
        node.warn("Node-RED has no userDir: product/batch/order will not survive a restart");
      }
      const shiftAt = line.shiftAt.bind(line);
      stamper = new ContextStamper({ identity, shiftAt, mode: createModeDeriver(settings.mode), initial });
      status.waiting(describe(stamper.context));
    } catch (err) {
      status.error(`config: ${(err as Error).message}`.slice(0, 60));
      reportError(node, err, { payload: null, error: { message: (err as Error).message } });
      stamper = null;
    }

    // UNS topic per tag, cached: a hit also means the tag was already found safe as a topic level.
    const topics = new Map<string, string>();
    const topicOf = (tag: string): string | null => {
      let t = topics.get(tag);
      if (t === undefined) {
        if (!isSafeTopicLevel(tag)) return null;
        t = `${linePath}/${tag}`;
        if (topics.size < TOPIC_CACHE_LIMIT) topics.set(tag, t);
      }
      return t;
    };

    const eventMessages = (events: ContextEvent[]): NodeMessage[] =>
      events.map((payload) => ({ topic: `${linePath}/_context`, payload }) as NodeMessage);

    onInput(node, (msg: NodeMessageInFlow, send: NodeSend) => {
      if (!stamper) throw new ConfigError("otb-context is not configured; see its status");
      const events: ContextEvent[] = [];
      const payload = msg.payload as unknown;
      const contextEvent = isContextEventLike(payload);
      if (msg.topic === contextTopic || contextEvent) {
        const fields = contextEvent ? pickOperatorFields((payload as { context: Record<string, unknown> }).context) : payload;
        // A ContextEvent that only reports what this node derives itself (shift, identity) sets nothing.
        if (contextEvent && Object.keys(fields as object).length === 0) return;
        const before = JSON.stringify(stamper.operatorContext);
        stamper.update(fields, Date.now(), events);
        const after = stamper.operatorContext;
        if (file && JSON.stringify(after) !== before) file.save(after);
        if (events.length > 0) send([null, eventMessages(events)]);
        status.flowing(describe(stamper.context));
        return;
      }
      const items: unknown[] = Array.isArray(payload) ? payload : [payload];
      // One pass: structural check and topic per item; arrays are copied only when something is invalid.
      const topicList: string[] = new Array(items.length);
      let signals = items as Signal[];
      let invalid: Array<{ index: number; item: unknown; reason: string }> | null = null;
      let kept = 0;
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as { tag?: unknown; ts?: unknown } | null;
        let reason: string | null = null;
        let topic: string | null = null;
        if (typeof item !== "object" || item === null || Array.isArray(item)) reason = "not a Signal object";
        else if (typeof item.tag !== "string" || (topic = topicOf(item.tag)) === null) reason = "tag must be a string usable as one topic level";
        else if (typeof item.ts !== "number" || !Number.isFinite(item.ts)) reason = "ts must be a finite number";
        if (reason) {
          if (!invalid) {
            invalid = [];
            signals = items.slice(0, i) as Signal[];
          }
          invalid.push({ index: i, item, reason });
          continue;
        }
        if (invalid) signals.push(item as Signal);
        topicList[kept++] = topic!;
      }
      topicList.length = kept;
      stamper.stamp(signals, events);
      const out: Array<NodeMessage | NodeMessage[] | null> = [null, events.length > 0 ? eventMessages(events) : null];
      if (signals.length > 0) {
        msg.payload = signals;
        msg.topic = linePath;
        (msg as NodeMessage & { topics: string[] }).topics = topicList;
        out[0] = msg;
      }
      if (out[0] || out[1]) send(out);
      status.flowing(describe(stamper.context));
      if (invalid) {
        // Not stamped and not passed on: said here, with the items, so a Catch node can route them.
        const err = new ValidationError(`${invalid.length} item(s) are not Signals and were not stamped; first: [${invalid[0].index}] ${invalid[0].reason}`);
        node.error(err, { ...msg, payload: invalid.map((x) => x.item), invalid } as NodeMessage);
      }
    });

    onClose(node, async () => {
      status.close();
      if (line) delete line.users[node.id];
      if (file) await file.flush();
    });
  }

  RED.nodes.registerType("otb-context", OtbContext as unknown as (this: Node, def: NodeDef) => void);
};

/** "P-100 · A · running": the status while data flows. */
function describe(ctx: Context): string {
  return [ctx.product ?? "no product", ctx.shift ?? "no shift", ctx.mode].filter(Boolean).join(" · ").slice(0, 40);
}

function isContextEventLike(payload: unknown): boolean {
  const p = payload as { kind?: unknown; context?: unknown } | null;
  return typeof p === "object" && p !== null && !Array.isArray(p) && p.kind === "context" && typeof p.context === "object" && p.context !== null;
}

/** From a ContextEvent (e.g. a simulator's schedule), only what a message may set. */
function pickOperatorFields(ctx: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of OPERATOR_FIELDS) if (k in ctx) out[k] = ctx[k];
  return out;
}
