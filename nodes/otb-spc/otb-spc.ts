/**
 * otb-spc: statistical process control per characteristic. Output 1: a KPI per chart point
 * (value, centre line, limits, the rules it violates), the phase I baseline report, and
 * capability (Cp, Cpk, Pp, Ppk) every few points or on msg.topic "capability". Output 2: rule
 * events, raised when a rule starts being violated and cleared when a point no longer violates
 * it, like otb-infer's alarms. Output 3: input it could not use, with reasons.
 */
import {
  ConfigError, onClose, onInput, reportError, StatusReporter, ValidationError,
  type Context, type Node, type NodeAPI, type NodeDef, type NodeMessage,
} from "../shared";
import { loadState, saveState, stateFilePath } from "../shared/outcomes/state-file";
import type { OtbLineNode } from "../otb-line/line-config";
import { readSpcConfig, type OtbSpcDef, type SpcSettings } from "./spc-config";
import { SpcSet } from "./spc-input";

/** State is saved at most this often while points flow, and always on close. */
const SAVE_EVERY_MS = 10_000;

export = function (RED: NodeAPI): void {
  function OtbSpc(this: Node, def: OtbSpcDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusReporter(node, { idleAfterMs: 60_000 });
    let settings: SpcSettings | null = null;
    let problem = "";
    try {
      settings = readSpcConfig(def, RED.settings.userDir as string | undefined);
    } catch (err) {
      problem = (err as Error).message;
    }
    if (!settings) {
      status.error(`config: ${problem}`.slice(0, 60));
      reportError(node, new ConfigError(problem));
      onInput(node, (msg, send) => {
        send([null, null, { ...msg, rejected: [{ index: 0, reason: `otb-spc is not configured: ${problem}` }] } as NodeMessage]);
        throw new ConfigError(problem);
      });
      return;
    }
    const cfg = settings;
    const line = def.line ? (RED.nodes.getNode(def.line) as OtbLineNode | null) : null;
    const lineContext: Context | undefined = line && !line.configError ? line.identity() : undefined;
    const set = new SpcSet(cfg.characteristics, cfg.capabilityEvery);
    const userDir = RED.settings.userDir as string | undefined;
    const file = cfg.persist && userDir ? stateFilePath(userDir, "spc", node.id) : null;
    if (file) {
      try {
        set.restore(loadState(file));
      } catch (err) {
        reportError(node, new Error(`saved SPC state ${file} is unreadable, starting a new baseline: ${(err as Error).message}`));
      }
    }
    let lastSave = 0;
    const save = (force = false): void => {
      if (!file || (!force && Date.now() - lastSave < SAVE_EVERY_MS)) return;
      lastSave = Date.now();
      try {
        saveState(file, set.snapshot());
      } catch (err) {
        reportError(node, new Error(`cannot save SPC state to ${file}: ${(err as Error).message}`));
      }
    };
    const showStatus = (): void => {
      const active = [...set.charts.values()].flatMap((e) => e.chart.activeRules.map((r) => `${e.c.name}:${r}`));
      const baseline = [...set.charts.values()].filter((e) => e.chart.phase === "baseline").length;
      if (active.length) status.warning(`out of control: ${active.join(", ")}`.slice(0, 60));
      else if (baseline) status.flowing(`phase I: ${baseline} of ${set.charts.size} collecting baseline`);
      else status.flowing(`${set.charts.size} in control`);
    };
    status.waiting(`${cfg.characteristics.length} characteristic(s) (${cfg.origin})`.slice(0, 60));

    onInput(node, (msg, send) => {
      if (msg.topic === "capability") {
        const ts = Date.now();
        const kpis = [...set.charts.values()].filter((e) => e.chart.phase === "monitor" || e.chart.individuals.length > 1)
          .map((e) => set.capabilityKpi(e.c, e.chart, ts, lineContext));
        send([kpis.map((k) => ({ topic: `capability/${k.period.label}`, payload: k }) as NodeMessage), null, null]);
        return;
      }
      const out = set.handle(msg.payload, lineContext);
      const kpiMsgs = out.kpis.map((k) => ({ topic: `${k.name}/${k.period.label}`, payload: k }) as NodeMessage);
      const eventMsgs = out.events.map((e) => ({ topic: `spc/${String(e.characteristic)}/${String(e.rule)}`, payload: e }) as NodeMessage);
      const rejected = out.rejected.length
        ? ({ _msgid: msg._msgid, topic: msg.topic, payload: out.rejected.map((r) => r.item), rejected: out.rejected.map(({ index, reason }) => ({ index, reason })) } as NodeMessage)
        : null;
      if (kpiMsgs.length || eventMsgs.length || rejected) send([kpiMsgs.length ? kpiMsgs : null, eventMsgs.length ? eventMsgs : null, rejected]);
      if (out.kpis.length) {
        showStatus();
        save();
      }
      if (rejected) throw new ValidationError(`${out.rejected.length} item(s) not charted; first: [${out.rejected[0].index}] ${out.rejected[0].reason}`.slice(0, 500));
    });

    onClose(node, () => {
      save(true);
      status.close();
    });
  }

  RED.nodes.registerType("otb-spc", OtbSpc as unknown as (this: Node, def: NodeDef) => void);
};
