/**
 * otb-oee: OEE, TEEP, utilisation, the time waterfall, the six big losses, downtime by reason,
 * counts and energy per good part, from contextualised Signals and the line's shift calendar.
 * Output 1: KPI messages (per shift and local day when they end, per month, the rolling window
 * every few seconds, and on demand for msg.topic "report"); with a business case file, value
 * created against the baseline beside each. Output 2: input it could not use, with reasons.
 */
import {
  ConfigError, onClose, onInput, reportError, StatusReporter, ValidationError,
  type Context, type Kpi, type Node, type NodeAPI, type NodeDef, type NodeMessage, type NodeSend,
} from "../shared";
import { valueCreated } from "../shared/outcomes/business-case";
import { oeeKpi } from "../shared/outcomes/kpi";
import { OeeEngine, type ClosedPeriod, type OeeSnapshot } from "../shared/outcomes/oee";
import { loadState, saveState, stateFilePath } from "../shared/outcomes/state-file";
import { figures, type Tally } from "../shared/outcomes/tally";
import type { OtbLineNode } from "../otb-line/line-config";
import { Months } from "./months";
import { readOeeConfig, type OeeSettings, type OtbOeeDef } from "./oee-config";
import { OeeInput } from "./oee-input";

interface Saved {
  engine: OeeSnapshot;
  input: ReturnType<OeeInput["snapshot"]>;
  month: Months["current"];
  savedAt: string;
}

/** While data flows the state is saved at most this often (and always at period ends and on close). */
const SAVE_EVERY_MS = 10_000;

export = function (RED: NodeAPI): void {
  function OtbOee(this: Node, def: OtbOeeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusReporter(node, { idleAfterMs: 60_000 });
    const line = RED.nodes.getNode(def.line) as OtbLineNode | null;
    let settings: OeeSettings | null = null;
    let problem = "";
    try {
      if (!line) throw new ConfigError("no otb-line selected: the shift calendar comes from the line");
      if (line.configError || !line.calendar) throw new ConfigError(`line: ${line.configError ?? "no calendar"}`);
      settings = readOeeConfig(def, RED.settings.userDir as string | undefined);
    } catch (err) {
      problem = (err as Error).message;
    }
    if (!settings || !line?.calendar) {
      status.error(`config: ${problem}`.slice(0, 60));
      reportError(node, new ConfigError(problem));
      onInput(node, (msg, send) => {
        send([null, { ...msg, payload: msg.payload, rejected: [{ index: 0, reason: `otb-oee is not configured: ${problem}` }] } as NodeMessage]);
        throw new ConfigError(problem);
      });
      return;
    }
    const cfg = settings;
    const identity: Context = line.identity();
    const engine = new OeeEngine({
      calendar: line.calendar, idealCycleSec: cfg.idealCycleSec, idealCycleByProduct: cfg.idealCycleByProduct, counting: cfg.counting,
      microStopSec: cfg.microStopSec, maxGapSec: cfg.maxGapSec, counterMax: cfg.counterMax, energyWrap: cfg.energyWrap === undefined ? undefined : cfg.energyWrap * cfg.energyScale,
      startupSec: cfg.startupSec, windowMin: cfg.windowMin, defaultProduct: identity.product,
    });
    // With the system clock in charge (live data), Signals from the future are refused.
    const input = new OeeInput(engine, cfg, cfg.followClock ? Date.now : undefined);
    const months = new Months();
    const userDir = RED.settings.userDir as string | undefined;
    const file = cfg.persist && userDir ? stateFilePath(userDir, "oee", node.id) : null;
    if (file) {
      try {
        const saved = loadState<Saved>(file);
        if (saved) {
          engine.restore(saved.engine);
          input.restore(saved.input);
          months.current = saved.month ?? null;
        }
      } catch (err) {
        reportError(node, new Error(`saved OEE state ${file} is unreadable, starting fresh: ${(err as Error).message}`));
      }
    }
    let lastSave = 0;
    const save = (force = true): void => {
      if (!file || (!force && Date.now() - lastSave < SAVE_EVERY_MS)) return;
      lastSave = Date.now();
      try {
        saveState(file, { engine: engine.snapshot(), input: input.snapshot(), month: months.current, savedAt: new Date().toISOString() } satisfies Saved);
      } catch (err) {
        reportError(node, new Error(`cannot save OEE state to ${file}: ${(err as Error).message}`));
      }
    };

    const ctx = (): Context => ({ ...identity, ...(engine.currentProduct ? { product: engine.currentProduct } : {}) });
    const kpis = (scope: Kpi["scope"], label: string, t: Tally, ts: number): Kpi[] => {
      const out = [oeeKpi(scope, label, t, ts, ctx())];
      if (cfg.businessCase) {
        const v = valueCreated(cfg.businessCase, t);
        const values: Record<string, number | null> = { valueCreated: round2(v.total), expectedPerMonth: cfg.businessCase.expected.valuePerMonth };
        for (const term of v.terms) values[term.term] = round2(term.value);
        out.push({
          kind: "kpi", ts, name: "value", scope, period: { from: t.from, to: t.to, label },
          values, units: Object.fromEntries(Object.keys(values).map((k) => [k, cfg.businessCase!.currency])),
          detail: { currency: cfg.businessCase.currency, baseline: cfg.businessCase.baseline, unitValues: cfg.businessCase.unitValues, terms: v.terms, skipped: v.skipped },
          quality: out[0].quality, ...(out[0].reasons ? { reasons: out[0].reasons } : {}), context: ctx(),
        });
      }
      return out;
    };
    const emitClosed = (send: NodeSend, closed: ClosedPeriod[]): void => {
      if (closed.length === 0) return;
      const msgs: NodeMessage[] = [];
      for (const p of closed) {
        for (const k of kpis(p.scope, p.label, p.tally, p.tally.to)) msgs.push({ topic: `${k.name}/${p.scope}`, payload: k } as NodeMessage);
        if (p.scope === "day") {
          const ended = months.addDay(p.label, p.tally);
          if (ended) for (const k of kpis("month", ended.label, ended.tally, ended.tally.to)) msgs.push({ topic: `${k.name}/month`, payload: k } as NodeMessage);
        }
      }
      send([msgs, null]);
      save();
    };
    const showStatus = (): void => {
      const cur = engine.current();
      const t = cur.shift?.tally ?? cur.window;
      const f = figures(t);
      const text = `${engine.currentMode} · OEE ${f.oee === null ? "-" : (f.oee * 100).toFixed(1) + "%"}${cur.shift ? ` (${cur.shift.label.split("/")[1]})` : ""}`;
      if (t.missingMs > 0 || engine.currentMode === "fault") status.warning(text);
      else status.flowing(text);
    };
    status.waiting("waiting for Signals");

    const timers: NodeJS.Timeout[] = [];
    if (cfg.windowEverySec > 0) {
      const t = setInterval(() => {
        try {
          if (cfg.followClock) engine.advance(Date.now());
          emitClosed((m) => node.send(m), engine.drain());
          const w = engine.current().window;
          if (w.allMs > 0) node.send([{ topic: "oee/window", payload: kpis("window", `${cfg.windowMin} min`, w, w.to)[0] } as NodeMessage, null]);
          showStatus();
        } catch (err) {
          reportError(node, err);
        }
      }, cfg.windowEverySec * 1000);
      t.unref?.();
      timers.push(t);
    }

    onInput(node, (msg, send) => {
      if (msg.topic === "report") {
        const ts = typeof msg.payload === "number" ? msg.payload : Date.now();
        if (cfg.followClock || typeof msg.payload === "number") engine.advance(ts);
        emitClosed(send, engine.drain());
        const cur = engine.current();
        const out: NodeMessage[] = [];
        if (cur.shift) for (const k of kpis("demand", `shift ${cur.shift.label}`, cur.shift.tally, ts)) out.push({ topic: `${k.name}/demand`, payload: k } as NodeMessage);
        if (cur.day) for (const k of kpis("demand", `day ${cur.day.label}`, cur.day.tally, ts)) out.push({ topic: `${k.name}/demand`, payload: k } as NodeMessage);
        out.push({ topic: "oee/window", payload: kpis("window", `${cfg.windowMin} min`, cur.window, ts)[0] } as NodeMessage);
        send([out, null]);
        return;
      }
      const rejected = input.handle(msg.payload);
      emitClosed(send, engine.drain());
      showStatus();
      save(false);
      if (rejected.length > 0) {
        send([null, { _msgid: msg._msgid, topic: msg.topic, payload: rejected.map((r) => r.item), rejected: rejected.map(({ index, reason }) => ({ index, reason })) } as NodeMessage]);
        throw new ValidationError(`${rejected.length} item(s) not used for OEE; first: [${rejected[0].index}] ${rejected[0].reason}`.slice(0, 500));
      }
    });

    onClose(node, () => {
      for (const t of timers) clearInterval(t);
      save();
      status.close();
    });
  }

  RED.nodes.registerType("otb-oee", OtbOee as unknown as (this: Node, def: NodeDef) => void);
};

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
