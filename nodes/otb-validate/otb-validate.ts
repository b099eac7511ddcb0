/**
 * otb-validate: schema and sensor rules for Signal batches. Output 1 carries good and uncertain
 * Signals, output 2 quarantines bad Signals (payload) and invalid items (msg.invalid), output 3
 * a periodic per-tag quality summary. Every item that comes in goes out exactly once; stale
 * tags are emitted on output 2 by a timer, with no input needed. The same counters are served
 * at GET <admin>/otb-validate/<node id>/quality behind Node-RED's admin auth.
 */
import { ValidationError } from "../shared/errors";
import { defineNode, type NodeContext, type NodeController } from "../shared/define-node";
import type { NodeAPI, NodeMessage, NodeMessageInFlow, NodeSend } from "../shared/red";
import type { Signal } from "../shared/types";
import { pct } from "./counters";
import { QualityEngine } from "./engine";
import { schema } from "./schema";
import { validateSettings, type ValidateFields, type ValidateSettings } from "./validate-config";

/** Engines by node id, for the admin endpoint. */
const engines = new Map<string, QualityEngine>();

/** The recent good share halves every DECAY_MS, so the status shows now, not since deploy. */
const DECAY_MS = 10_000;

class ValidateController implements NodeController {
  readonly engine: QualityEngine;

  constructor(private readonly ctx: NodeContext<ValidateFields>, private readonly settings: ValidateSettings) {
    const engine = (this.engine = new QualityEngine({ rules: settings.rules, unknownTags: settings.unknownTags, maxStringLength: settings.maxStringLength }));
    engines.set(ctx.node.id, engine);
    ctx.status.waiting(`${settings.rules.length} rules (${settings.origin}), waiting`.slice(0, 60));
    const staleMs = engine.shortestStaleMs;
    // Check often enough that a tag is reported within ~10% of its own stale period.
    if (staleMs > 0) ctx.every(Math.min(1000, Math.max(10, Math.floor(staleMs / 10))), () => this.sweep()).unref?.();
    if (settings.summaryIntervalSec > 0) ctx.every(settings.summaryIntervalSec * 1000, () => this.sendSummary()).unref?.();
    ctx.every(DECAY_MS, () => {
      engine.recentGood /= 2;
      engine.recentTotal /= 2;
    }).unref?.();
  }

  input(msg: NodeMessageInFlow, send: NodeSend): void {
    const { passed, quarantined, invalid } = this.engine.processBatch(msg.payload);
    route(msg, send, passed, quarantined, invalid);
    this.showStatus();
    if (invalid.length > 0) {
      throw new ValidationError(`${invalid.length} item(s) are not valid Signals; first: [${invalid[0]!.index}] ${invalid[0]!.reason}`.slice(0, 500));
    }
  }

  close(): void {
    if (engines.get(this.ctx.node.id) === this.engine) engines.delete(this.ctx.node.id);
  }

  private showStatus(): void {
    const good = pct(this.engine.recentGood, this.engine.recentTotal) ?? 0;
    const stale = this.engine.staleCount;
    const text = `${good}% good${stale ? `, ${stale} stale` : ""}`;
    if (good < this.settings.warnBelowPct || stale > 0) this.ctx.status.warning(text);
    else this.ctx.status.flowing(text);
  }

  private sweep(): void {
    try {
      const stale = this.engine.sweepStale();
      if (stale.length === 0) return;
      this.ctx.node.send([null, { topic: "stale", payload: stale, invalid: [] }, null]);
      this.showStatus();
    } catch (err) {
      this.ctx.report(err);
    }
  }

  private sendSummary(): void {
    try {
      this.ctx.node.send([null, null, { topic: "quality", payload: this.engine.counters.summary(Date.now(), this.engine.catalogTags) }]);
    } catch (err) {
      this.ctx.report(err);
    }
  }
}

function route(msg: NodeMessage, send: NodeSend, passed: Signal[], quarantined: Signal[], invalid: unknown[]): void {
  let out1: NodeMessage | null = null;
  let out2: NodeMessage | null = null;
  if (quarantined.length > 0 || invalid.length > 0) out2 = { _msgid: msg._msgid, topic: msg.topic, payload: quarantined, invalid } as NodeMessage;
  if (passed.length > 0) {
    msg.payload = passed;
    out1 = msg;
  }
  if (out1 || out2) send([out1, out2, null]);
}

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    status: { idleAfterMs: 30_000 },
    create: (ctx) => new ValidateController(ctx, validateSettings(ctx.config, ctx.userFile)),
    // Unconfigured: nothing passes, but nothing vanishes either.
    refuse(msg, send, err) {
      const items = Array.isArray(msg.payload) ? (msg.payload as unknown[]) : [msg.payload];
      route(msg, send, [], [], items.map((item, index) => ({ index, item, reason: `otb-validate is not configured: ${err.message}` })));
    },
  });

  // Per-tag quality counters for dashboards and audits, behind the editor's admin auth.
  RED.httpAdmin.get("/otb-validate/:id/quality", RED.auth.needsPermission("otb-validate.read"), (req, res) => {
    const engine = engines.get(String(req.params.id));
    if (!engine) {
      res.status(404).json({ error: "no deployed otb-validate node with this id" });
      return;
    }
    res.json(engine.counters.summary(Date.now(), engine.catalogTags));
  });
  RED.httpAdmin.post("/otb-validate/:id/reset", RED.auth.needsPermission("otb-validate.write"), (req, res) => {
    const engine = engines.get(String(req.params.id));
    if (!engine) {
      res.status(404).json({ error: "no deployed otb-validate node with this id" });
      return;
    }
    engine.resetCounters();
    res.json({ reset: true, since: engine.counters.since });
  });
};
