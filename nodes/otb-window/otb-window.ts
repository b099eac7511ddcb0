/**
 * otb-window: Signal batches in, FeatureFrames out (output 1); refused Signals (late, not
 * numeric, clock far in the future, schema-invalid) out of output 2 with a reason each, so
 * nothing is dropped silently. A timer closes windows when the input goes quiet.
 */
import { ConfigError, StatusReporter, ValidationError, onClose, onInput, reportError, splitBatch, unsFeaturesTopic, type FeatureFrame } from "../shared";
import { loadModelCard } from "../shared/model-card";
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeSend } from "../shared/red";
import { featuresFromCard, parseWindowConfig, type OtbWindowDef, type WindowConfig } from "./window-config";
import { WindowEngine, type Refused } from "./window-engine";

interface RefusedItem {
  item: unknown;
  reason: string;
}

export = function (RED: NodeAPI): void {
  function OtbWindow(this: Node, def: OtbWindowDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusReporter(node, { idleAfterMs: 30_000 });
    let config: WindowConfig | null = null;
    let engine: WindowEngine | null = null;
    let configError: Error | null = null;
    let timer: NodeJS.Timeout | null = null;
    let reported = { frames: 0, skipped: 0, late: 0 };

    const fail = (err: Error): void => {
      configError = err;
      status.error(`config: ${err.message}`.slice(0, 60));
      // Deferred: Node-RED wires up Catch nodes only after every node of the flow is constructed.
      setImmediate(() => reportError(node, err, { payload: null, window: def.windowName }));
    };

    const start = (cardFeatures?: ReturnType<typeof featuresFromCard>): void => {
      config = parseWindowConfig(def, cardFeatures);
      engine = new WindowEngine(config.options);
      const tickMs = Math.min(1000, Math.max(20, Math.floor(config.options.hopMs / 4)));
      timer = setInterval(() => emit(node.send.bind(node) as NodeSend), tickMs);
      timer.unref?.();
      status.waiting(`${config.options.features.length} features, no data`);
    };

    const ready: Promise<void> = (async () => {
      try {
        const cardPath = String(def.cardPath ?? "").trim();
        start(cardPath ? featuresFromCard(await loadModelCard(cardPath)) : undefined);
      } catch (err) {
        fail(err instanceof Error ? err : new ConfigError(String(err)));
      }
    })();

    function emit(send: NodeSend): void {
      if (!engine || !config) return;
      let frames: FeatureFrame[];
      try {
        frames = engine.advance(Date.now());
      } catch (err) {
        reportError(node, err);
        return;
      }
      for (const frame of frames) {
        const msg: NodeMessage = { payload: frame };
        if (frame.context) msg.topic = unsFeaturesTopic(frame.context, config.windowName);
        send([msg, null]);
      }
      updateStatus(frames[frames.length - 1]);
    }

    function updateStatus(lastFrame: FeatureFrame | undefined): void {
      if (!engine) return;
      const c = engine.counters;
      const changed = c.frames !== reported.frames || c.skippedFrames !== reported.skipped || c.late !== reported.late;
      if (!changed) return;
      reported = { frames: c.frames, skipped: c.skippedFrames, late: c.late };
      const extra = `${c.skippedFrames ? `, ${c.skippedFrames} skipped` : ""}${c.late ? `, ${c.late} late` : ""}`;
      if (lastFrame && lastFrame.missing.length > 0) status.warning(`missing ${lastFrame.missing[0]}${lastFrame.missing.length > 1 ? ` +${lastFrame.missing.length - 1}` : ""}`);
      else if (lastFrame) status.flowing(`${c.frames} frames${extra}`);
      else if (c.skippedFrames !== 0) status.warning(`${c.frames} frames${extra}`);
    }

    onInput(node, async (msg, send) => {
      await ready;
      if (configError || !engine) throw configError ?? new ConfigError("not configured");
      const { signals, rejected } = splitBatch(msg.payload);
      const refused: RefusedItem[] = rejected.map((r) => ({ item: r.item, reason: `invalid: ${r.reason}` }));
      for (const r of engine.add(signals, Date.now()) as Refused[]) refused.push(r);
      emit(send);
      if (refused.length > 0) send([null, { ...msg, payload: refused }]);
      if (rejected.length > 0) {
        throw new ValidationError(`${rejected.length} of ${rejected.length + signals.length} item(s) are not Signals: ${rejected[0].reason}`);
      }
    });

    onClose(node, async () => {
      if (timer) clearInterval(timer);
      timer = null;
      status.close();
    });
  }
  RED.nodes.registerType("otb-window", OtbWindow as unknown as (this: Node, def: NodeDef) => void);
};
