/**
 * otb-oee: OEE, TEEP, utilisation, the time waterfall, the six big losses, downtime by reason,
 * counts and energy per good part, from contextualised Signals and the line's shift calendar.
 * Output 1: KPI messages (per shift and local day when they end, per month, the rolling window
 * every few seconds, and on demand for msg.topic "report"); with a business case file, value
 * created against the baseline beside each. Output 2: input it could not use, with reasons.
 */
import { defineNode, type NodeContext, type NodeController } from "../shared/define-node";
import { ConfigError, ValidationError } from "../shared/errors";
import { OeeEngine, type ClosedPeriod } from "../shared/outcomes/oee";
import { stateFilePath } from "../shared/outcomes/state-file";
import { figures } from "../shared/outcomes/tally";
import type { NodeAPI, NodeMessage, NodeMessageInFlow, NodeSend } from "../shared/red";
import type { OtbLineNode } from "../otb-line/line-config";
import { Months } from "./months";
import { businessCaseReader, oeeSettings, type OeeFields, type OeeSettings } from "./oee-config";
import { OeeInput } from "./oee-input";
import { OeeKpis } from "./oee-kpis";
import { OeeState } from "./oee-state";
import { schema } from "./schema";

class OeeController implements NodeController {
  private readonly engine: OeeEngine;
  private readonly oeeInput: OeeInput;
  private readonly months = new Months();
  private readonly kpis: OeeKpis;
  private readonly state: OeeState;

  constructor(private readonly ctx: NodeContext<OeeFields>, private readonly cfg: OeeSettings, line: OtbLineNode, stateFile: string | null) {
    const identity = line.identity();
    const engine = (this.engine = new OeeEngine({
      calendar: line.calendar!, idealCycleSec: cfg.idealCycleSec, idealCycleByProduct: cfg.idealCycleByProduct, counting: cfg.counting,
      microStopSec: cfg.microStopSec, maxGapSec: cfg.maxGapSec, counterMax: cfg.counterMax, energyWrap: cfg.energyWrap === undefined ? undefined : cfg.energyWrap * cfg.energyScale,
      startupSec: cfg.startupSec, windowMin: cfg.windowMin, defaultProduct: identity.product,
    }));
    // With the system clock in charge (live data), Signals from the future are refused.
    this.oeeInput = new OeeInput(engine, cfg, cfg.followClock ? Date.now : undefined);
    this.kpis = new OeeKpis(engine, identity, cfg.businessCase);
    this.state = new OeeState(stateFile, engine, this.oeeInput, this.months, (err) => ctx.report(err));
    const loadError = this.state.load();
    // ctx.report holds it until the flow has started, so that its Catch nodes exist.
    if (loadError) ctx.report(loadError);
    ctx.status.waiting("waiting for Signals");
    if (cfg.windowEverySec > 0) ctx.every(cfg.windowEverySec * 1000, () => this.tick()).unref?.();
  }

  input(msg: NodeMessageInFlow, send: NodeSend): void {
    if (msg.topic === "report") return this.report(msg, send);
    const rejected = this.oeeInput.handle(msg.payload);
    this.emitClosed(send, this.engine.drain());
    this.showStatus();
    this.state.save(false);
    if (rejected.length > 0) {
      send([null, { _msgid: msg._msgid, topic: msg.topic, payload: rejected.map((r) => r.item), rejected: rejected.map(({ index, reason }) => ({ index, reason })) } as NodeMessage]);
      throw new ValidationError(`${rejected.length} item(s) not used for OEE; first: [${rejected[0]!.index}] ${rejected[0]!.reason}`.slice(0, 500));
    }
  }

  close(): void {
    this.state.save();
  }

  private report(msg: NodeMessageInFlow, send: NodeSend): void {
    const ts = typeof msg.payload === "number" ? msg.payload : Date.now();
    if (this.cfg.followClock || typeof msg.payload === "number") this.engine.advance(ts);
    this.emitClosed(send, this.engine.drain());
    const cur = this.engine.current();
    const out: NodeMessage[] = [];
    if (cur.shift) out.push(...this.kpis.messages("demand", `shift ${cur.shift.label}`, cur.shift.tally, ts));
    if (cur.day) out.push(...this.kpis.messages("demand", `day ${cur.day.label}`, cur.day.tally, ts));
    out.push(this.kpis.windowMessage(`${this.cfg.windowMin} min`, cur.window, ts));
    send([out, null]);
  }

  private tick(): void {
    try {
      if (this.cfg.followClock) this.engine.advance(Date.now());
      const send = this.ctx.node.send.bind(this.ctx.node) as NodeSend;
      this.emitClosed(send, this.engine.drain());
      const w = this.engine.current().window;
      if (w.allMs > 0) send([this.kpis.windowMessage(`${this.cfg.windowMin} min`, w, w.to), null]);
      this.showStatus();
    } catch (err) {
      this.ctx.report(err);
    }
  }

  private emitClosed(send: NodeSend, closed: ClosedPeriod[]): void {
    if (closed.length === 0) return;
    const msgs: NodeMessage[] = [];
    for (const p of closed) {
      msgs.push(...this.kpis.messages(p.scope, p.label, p.tally, p.tally.to, p.scope));
      const ended = p.scope === "day" ? this.months.addDay(p.label, p.tally) : null;
      if (ended) msgs.push(...this.kpis.messages("month", ended.label, ended.tally, ended.tally.to, "month"));
    }
    send([msgs, null]);
    this.state.save();
  }

  private showStatus(): void {
    const cur = this.engine.current();
    const t = cur.shift?.tally ?? cur.window;
    const f = figures(t);
    const text = `${this.engine.currentMode} · OEE ${f.oee === null ? "-" : (f.oee * 100).toFixed(1) + "%"}${cur.shift ? ` (${cur.shift.label.split("/")[1]})` : ""}`;
    if (t.missingMs > 0 || this.engine.currentMode === "fault") this.ctx.status.warning(text);
    else this.ctx.status.flowing(text);
  }
}

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    status: { idleAfterMs: 60_000 },
    create(ctx) {
      const cfg = oeeSettings(ctx.config, businessCaseReader(ctx.userFile));
      // The runner has checked the line is deployed and configured (a `ref` field).
      const line = RED.nodes.getNode(ctx.config.line) as unknown as OtbLineNode;
      if (!line.calendar) throw new ConfigError("line: has no shift calendar", { field: "line" });
      const file = cfg.persist ? stateFilePath(ctx.durableDir("otb-oee's saved state (persist)"), "oee", ctx.node.id) : null;
      return new OeeController(ctx, cfg, line, file);
    },
    // Unconfigured: the input goes to the reject output with the reason, as well as to Catch.
    refuse(msg, send, err) {
      send([null, { ...msg, rejected: [{ index: 0, reason: `otb-oee is not configured: ${err.message}` }] } as NodeMessage]);
    },
  });
};
