/**
 * otb-spc: statistical process control per characteristic. Output 1: a KPI per chart point
 * (value, centre line, limits, the rules it violates), the phase I baseline report, and
 * capability (Cp, Cpk, Pp, Ppk) every few points or on msg.topic "capability". Output 2: rule
 * events, raised when a rule starts being violated and cleared when a point no longer violates
 * it, like otb-infer's alarms. Output 3: input it could not use, with reasons.
 */
import { defineNode, type NodeContext, type NodeController } from "../shared/define-node";
import { ValidationError } from "../shared/errors";
import { loadState, readJsonFile, saveState, stateFilePath } from "../shared/outcomes/state-file";
import type { NodeAPI, NodeMessage, NodeMessageInFlow, NodeSend } from "../shared/red";
import type { Context } from "../shared/types";
import type { OtbLineNode } from "../otb-line/line-config";
import { schema } from "./schema";
import { spcSettings, type SpcFields, type SpcSettings } from "./spc-config";
import { SpcSet } from "./spc-input";

/** State is saved at most this often while points flow, and always on close. */
const SAVE_EVERY_MS = 10_000;

class SpcController implements NodeController {
  private readonly set: SpcSet;
  private lastSave = 0;

  constructor(private readonly ctx: NodeContext<SpcFields>, cfg: SpcSettings, private readonly lineContext: Context | undefined, private readonly file: string | null) {
    this.set = new SpcSet(cfg.characteristics, cfg.capabilityEvery);
    if (file) {
      try {
        this.set.restore(loadState(file));
      } catch (err) {
        const loadError = new Error(`saved SPC state ${file} is unreadable, starting a new baseline: ${(err as Error).message}`);
        // ctx.report holds it until the flow has started, so that its Catch nodes exist.
        ctx.report(loadError);
      }
    }
    ctx.status.waiting(`${cfg.characteristics.length} characteristic(s) (${cfg.origin})`.slice(0, 60));
  }

  input(msg: NodeMessageInFlow, send: NodeSend): void {
    const set = this.set;
    if (msg.topic === "capability") {
      const ts = Date.now();
      const kpis = [...set.charts.values()].filter((e) => e.chart.phase === "monitor" || e.chart.individuals.length > 1).map((e) => set.capabilityKpi(e.c, e.chart, ts, this.lineContext));
      send([kpis.map((k) => ({ topic: `capability/${k.period.label}`, payload: k }) as NodeMessage), null, null]);
      return;
    }
    const out = set.handle(msg.payload, this.lineContext);
    const kpiMsgs = out.kpis.map((k) => ({ topic: `${k.name}/${k.period.label}`, payload: k }) as NodeMessage);
    const eventMsgs = out.events.map((e) => ({ topic: `spc/${String(e.characteristic)}/${String(e.rule)}`, payload: e }) as NodeMessage);
    const rejected = out.rejected.length
      ? ({ _msgid: msg._msgid, topic: msg.topic, payload: out.rejected.map((r) => r.item), rejected: out.rejected.map(({ index, reason }) => ({ index, reason })) } as NodeMessage)
      : null;
    if (kpiMsgs.length || eventMsgs.length || rejected) send([kpiMsgs.length ? kpiMsgs : null, eventMsgs.length ? eventMsgs : null, rejected]);
    if (out.kpis.length) {
      this.showStatus();
      this.save();
    }
    if (rejected) throw new ValidationError(`${out.rejected.length} item(s) not charted; first: [${out.rejected[0]!.index}] ${out.rejected[0]!.reason}`.slice(0, 500));
  }

  close(): void {
    this.save(true);
  }

  private save(force = false): void {
    if (!this.file || (!force && Date.now() - this.lastSave < SAVE_EVERY_MS)) return;
    this.lastSave = Date.now();
    try {
      saveState(this.file, this.set.snapshot());
    } catch (err) {
      this.ctx.report(new Error(`cannot save SPC state to ${this.file}: ${(err as Error).message}`));
    }
  }

  private showStatus(): void {
    const charts = [...this.set.charts.values()];
    const active = charts.flatMap((e) => e.chart.activeRules.map((r) => `${e.c.name}:${r}`));
    const baseline = charts.filter((e) => e.chart.phase === "baseline").length;
    if (active.length) this.ctx.status.warning(`out of control: ${active.join(", ")}`.slice(0, 60));
    else if (baseline) this.ctx.status.flowing(`phase I: ${baseline} of ${this.set.charts.size} collecting baseline`);
    else this.ctx.status.flowing(`${this.set.charts.size} in control`);
  }
}

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    status: { idleAfterMs: 60_000 },
    create(ctx) {
      const cfg = spcSettings(ctx.config, ctx.def, (file) => readJsonFile(ctx.userFile(file), undefined, "SPC catalog"));
      // Optional; when chosen, the runner has checked it is deployed and configured.
      const line = ctx.config.line ? (RED.nodes.getNode(ctx.config.line) as unknown as OtbLineNode) : null;
      const file = cfg.persist ? stateFilePath(ctx.durableDir("otb-spc's saved limits and history (persist)"), "spc", ctx.node.id) : null;
      return new SpcController(ctx, cfg, line ? line.identity() : undefined, file);
    },
    // Unconfigured: the input goes to the reject output with the reason, as well as to Catch.
    refuse(msg, send, err) {
      send([null, null, { ...msg, rejected: [{ index: 0, reason: `otb-spc is not configured: ${err.message}` }] } as NodeMessage]);
    },
  });
};
