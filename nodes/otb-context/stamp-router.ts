/**
 * What otb-context does with one message, free of Node-RED's node API: a context update
 * (msg.topic, or a ContextEvent) changes the operator context; a Signal batch is checked item
 * by item, stamped and given its UNS topics; invalid items are handed back for a report.
 */
import { ValidationError } from "../shared/errors";
import { isSafeTopicLevel } from "../shared/envelope";
import { TagLookup } from "../shared/tag-lookup";
import type { NodeMessage, NodeMessageInFlow, NodeSend } from "../shared/red";
import type { Context, ContextEvent, Signal } from "../shared/types";
import type { ContextFile } from "./context-file";
import { OPERATOR_FIELDS, type ContextStamper } from "./stamper";

/** Distinct tags whose topic strings are cached; beyond it topics are built per message. */
const TOPIC_CACHE_LIMIT = 10_000;
const BAD_TAG = "tag must be a string usable as one topic level";

export interface Handled {
  /** The status text after this message, or null when nothing changed. */
  status: string | null;
  invalid?: { error: ValidationError; msg: NodeMessage };
}

export class StampRouter {
  // UNS topic per tag, cached: a hit also means the tag was already found safe as a topic level.
  private readonly topics = new Map<string, string>();
  private readonly topicAt = new TagLookup(this.topics, true);
  private described: Context | null = null;
  private describedText = "";

  constructor(private readonly stamper: ContextStamper, private readonly linePath: string, private readonly contextTopic: string, private readonly file: ContextFile | null) {}

  handle(msg: NodeMessageInFlow, send: NodeSend): Handled {
    const payload = msg.payload as unknown;
    const contextEvent = isContextEventLike(payload);
    if (msg.topic === this.contextTopic || contextEvent) {
      const event = payload as { ts?: unknown; context: Record<string, unknown> };
      // A ContextEvent carries the time of the change on the data's time line (a simulator's or a
      // replay's schedule): the change takes effect then. An operator's message has no time of its
      // own: the change happens now, by the wall clock.
      const ts = contextEvent && typeof event.ts === "number" && Number.isFinite(event.ts) ? event.ts : Date.now();
      return this.update(contextEvent ? pickOperatorFields(event.context) : payload, contextEvent, ts, send);
    }
    return this.stamp(msg, payload, send);
  }

  private update(fields: unknown, fromEvent: boolean, ts: number, send: NodeSend): Handled {
    // A ContextEvent that only reports what this node derives itself (shift, identity) sets nothing.
    if (fromEvent && Object.keys(fields as object).length === 0) return { status: null };
    const events: ContextEvent[] = [];
    const before = JSON.stringify(this.stamper.operatorContext);
    this.stamper.update(fields, ts, events);
    const after = this.stamper.operatorContext;
    if (this.file && JSON.stringify(after) !== before) this.file.save(after);
    if (events.length > 0) send([null, this.eventMessages(events)]);
    return { status: describe(this.stamper.context) };
  }

  private stamp(msg: NodeMessageInFlow, payload: unknown, send: NodeSend): Handled {
    const events: ContextEvent[] = [];
    const items: unknown[] = Array.isArray(payload) ? payload : [payload];
    // One pass: structural check, topic and stamp per item (a Signal is read once while it is
    // in the CPU cache); the array is copied only when something is invalid.
    const topicList: string[] = new Array<string>(items.length);
    let kept = 0;
    let signals = items as Signal[];
    let invalid: Array<{ index: number; item: unknown; reason: string }> | null = null;
    const stamper = this.stamper;
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as { tag?: unknown; ts?: unknown } | null;
      let reason: string | null = null;
      let topic: string | null = null;
      if (typeof item !== "object" || item === null || Array.isArray(item)) reason = "not a Signal object";
      else if (typeof item.tag !== "string" || (topic = this.topicOf(item.tag, i)) === null) reason = BAD_TAG;
      else if (typeof item.ts !== "number" || !Number.isFinite(item.ts)) reason = "ts must be a finite number";
      if (reason === null && topic !== null) {
        if (invalid) signals.push(item as Signal);
        topicList[kept++] = topic;
        stamper.stampOne(item as Signal, events);
        continue;
      }
      if (!invalid) {
        invalid = [];
        signals = items.slice(0, i) as Signal[];
      }
      invalid.push({ index: i, item, reason: reason ?? BAD_TAG });
    }
    topicList.length = kept;
    const out: Array<NodeMessage | NodeMessage[] | null> = [null, events.length > 0 ? this.eventMessages(events) : null];
    if (signals.length > 0) {
      msg.payload = signals;
      msg.topic = this.linePath;
      (msg as NodeMessage & { topics: string[] }).topics = topicList;
      out[0] = msg;
    }
    if (out[0] || out[1]) send(out);
    const handled: Handled = { status: this.statusText() };
    if (invalid) {
      const error = new ValidationError(`${invalid.length} item(s) are not Signals and were not stamped; first: [${invalid[0]!.index}] ${invalid[0]!.reason}`);
      handled.invalid = { error, msg: { ...msg, payload: invalid.map((x) => x.item), invalid } as NodeMessage };
    }
    return handled;
  }

  /** describe() of the current context, built again only when the context object changed (not per batch). */
  private statusText(): string {
    const ctx = this.stamper.context;
    if (ctx !== this.described) {
      this.described = ctx;
      this.describedText = describe(ctx);
    }
    return this.describedText;
  }

  private topicOf(tag: string, index: number): string | null {
    let t = this.topicAt.get(tag, index);
    if (t === undefined) {
      if (!isSafeTopicLevel(tag)) return null;
      t = `${this.linePath}/${tag}`;
      if (this.topics.size < TOPIC_CACHE_LIMIT) this.topics.set(tag, t);
    }
    return t;
  }

  private eventMessages(events: ContextEvent[]): NodeMessage[] {
    return events.map((payload) => ({ topic: `${this.linePath}/_context`, payload }) as NodeMessage);
  }
}

/** "P-100 · A · running": the status while data flows. */
export function describe(ctx: Context): string {
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
