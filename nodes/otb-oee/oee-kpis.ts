/** otb-oee's KPI messages: the OEE KPI of a period and, with a business case, the value created beside it. */
import { valueCreated, type BusinessCase } from "../shared/outcomes/business-case";
import { oeeKpi } from "../shared/outcomes/kpi";
import type { OeeEngine } from "../shared/outcomes/oee";
import type { Tally } from "../shared/outcomes/tally";
import type { NodeMessage } from "../shared/red";
import type { Context, Kpi } from "../shared/types";

export class OeeKpis {
  constructor(private readonly engine: OeeEngine, private readonly identity: Context, private readonly businessCase: BusinessCase | null) {}

  /** One message per KPI, topic `<kpi name>/<topicScope>` (the scope unless given). */
  messages(scope: Kpi["scope"], label: string, t: Tally, ts: number, topicScope: string = scope): NodeMessage[] {
    return this.kpis(scope, label, t, ts).map((k) => ({ topic: `${k.name}/${topicScope}`, payload: k }) as NodeMessage);
  }

  /** The rolling window's OEE KPI, topic "oee/window". */
  windowMessage(label: string, t: Tally, ts: number): NodeMessage {
    return { topic: "oee/window", payload: this.kpis("window", label, t, ts)[0] } as NodeMessage;
  }

  private context(): Context {
    return { ...this.identity, ...(this.engine.currentProduct ? { product: this.engine.currentProduct } : {}) };
  }

  private kpis(scope: Kpi["scope"], label: string, t: Tally, ts: number): Kpi[] {
    const oee = oeeKpi(scope, label, t, ts, this.context());
    const bc = this.businessCase;
    if (!bc) return [oee];
    const v = valueCreated(bc, t);
    const values: Record<string, number | null> = { valueCreated: round2(v.total), expectedPerMonth: bc.expected.valuePerMonth };
    for (const term of v.terms) values[term.term] = round2(term.value);
    const value: Kpi = {
      kind: "kpi", ts, name: "value", scope, period: { from: t.from, to: t.to, label },
      values, units: Object.fromEntries(Object.keys(values).map((k) => [k, bc.currency])),
      detail: { currency: bc.currency, baseline: bc.baseline, unitValues: bc.unitValues, terms: v.terms, skipped: v.skipped },
      quality: oee.quality, ...(oee.reasons ? { reasons: oee.reasons } : {}), context: this.context(),
    };
    return [oee, value];
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
