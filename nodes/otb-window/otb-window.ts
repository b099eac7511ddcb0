/**
 * otb-window: Signal batches in, FeatureFrames out (output 1); refused Signals (late, not
 * numeric, clock far in the future, schema-invalid) out of output 2 with a reason each, so
 * nothing is dropped silently. A timer closes windows when the input goes quiet.
 */
import { ValidationError, unsFeaturesTopic, type FeatureFrame } from "../shared";
import { describeErrors, isValidSignal, validateSignal, type SignalCheckMemo } from "../shared/schemas";
import { defineNode, type NodeContext, type NodeController } from "../shared/define-node";
import { loadModelCard } from "../shared/model-card";
import type { NodeAPI, NodeMessage, NodeMessageInFlow, NodeSend } from "../shared/red";
import { featuresFromCard, windowFromSettings, type WindowConfig, type WindowSettings } from "./window-config";
import { WindowEngine, type Refused } from "./window-engine";
import { schema } from "./schema";

interface RefusedItem {
  item: unknown;
  reason: string;
}

class WindowController implements NodeController {
  private readonly engine: WindowEngine;
  private reported = { frames: 0, skipped: 0, late: 0 };

  constructor(private readonly ctx: NodeContext<WindowSettings>, private readonly config: WindowConfig) {
    this.engine = new WindowEngine(config.options);
    const tickMs = Math.min(1000, Math.max(20, Math.floor(config.options.hopMs / 4)));
    ctx.every(tickMs, () => this.emit(ctx.node.send.bind(ctx.node) as NodeSend)).unref?.();
    ctx.status.waiting(`${config.options.features.length} features, no data`);
  }

  input(msg: NodeMessageInFlow, send: NodeSend): void {
    // One pass: each item is checked against the Signal schema and, if valid, added at once (as
    // splitBatch + engine.add would, without a second walk over the batch). An item whose tag no
    // feature uses is ignored unread, as a valid one always was: the window checks what it uses
    // (the pilot's window uses 6 of its 10 tags; the check was a third of this node's time).
    const payload: unknown = msg.payload;
    const items: unknown[] = Array.isArray(payload) ? payload : [payload];
    const wallNow = Date.now();
    const engine = this.engine;
    const byEngine: Refused[] = [];
    let rejected: RefusedItem[] | null = null;
    const memo: SignalCheckMemo = {};
    for (let i = 0; i < items.length; i++) {
      const item: unknown = items[i];
      const tag = (item as { tag?: unknown } | null | undefined)?.tag;
      if (typeof tag === "string" && !engine.uses(tag, i)) continue;
      if (isValidSignal(item, memo)) engine.addSignal(item, wallNow, byEngine, i);
      else (rejected ??= []).push({ item, reason: describeErrors(validateSignal.errors) });
    }
    this.emit(send);
    if (rejected !== null || byEngine.length > 0) {
      const refused: RefusedItem[] = rejected ? rejected.map((r) => ({ item: r.item, reason: `invalid: ${r.reason}` })) : [];
      for (const r of byEngine) refused.push(r);
      send([null, { ...msg, payload: refused }]);
    }
    if (rejected !== null) {
      throw new ValidationError(`${rejected.length} of ${items.length} item(s) are not Signals: ${rejected[0]?.reason ?? ""}`);
    }
  }

  private emit(send: NodeSend): void {
    let frames: FeatureFrame[];
    try {
      frames = this.engine.advance(Date.now());
    } catch (err) {
      this.ctx.report(err);
      return;
    }
    for (const frame of frames) {
      const msg: NodeMessage = { payload: frame };
      if (frame.context) msg.topic = unsFeaturesTopic(frame.context, this.config.windowName);
      send([msg, null]);
    }
    this.updateStatus(frames[frames.length - 1]);
  }

  private updateStatus(lastFrame: FeatureFrame | undefined): void {
    const c = this.engine.counters;
    if (c.frames === this.reported.frames && c.skippedFrames === this.reported.skipped && c.late === this.reported.late) return;
    this.reported = { frames: c.frames, skipped: c.skippedFrames, late: c.late };
    const extra = `${c.skippedFrames ? `, ${c.skippedFrames} skipped` : ""}${c.late ? `, ${c.late} late` : ""}`;
    const status = this.ctx.status;
    if (lastFrame && lastFrame.missing.length > 0) status.warning(`missing ${lastFrame.missing[0]}${lastFrame.missing.length > 1 ? ` +${lastFrame.missing.length - 1}` : ""}`);
    else if (lastFrame) status.flowing(`${c.frames} frames${extra}`);
    else if (c.skippedFrames !== 0) status.warning(`${c.frames} frames${extra}`);
  }
}

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    status: { idleAfterMs: 30_000 },
    async create(ctx) {
      const cardPath = ctx.config.cardPath;
      const cardFeatures = cardPath ? featuresFromCard(await loadModelCard(ctx.userFile(cardPath))) : undefined;
      return new WindowController(ctx, windowFromSettings(ctx.config, cardFeatures));
    },
  });
};
