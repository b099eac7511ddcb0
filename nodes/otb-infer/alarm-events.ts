/**
 * otb-infer's alarms: hysteresis over the anomaly flag of each Inference (alarm.ts) turned into
 * Alarm messages. A raise and its clear carry one id (model name, sha256 prefix, event time of
 * the raise), the same after a restart replays the frames; each is recorded in the verdict store
 * so that an operator can judge it later.
 */
import { toError } from "../shared/errors";
import { unsLinePath } from "../shared/envelope";
import type { Alarm, Inference } from "../shared/types";
import { Hysteresis } from "./alarm";
import type { VerdictStore } from "./verdict-store";

/** A type, not an interface: NodeSend takes it as a message (an interface has no index signature). */
export type AlarmMessage = {
  topic?: string;
  payload: Alarm;
};

export class AlarmTracker {
  private readonly hysteresis: Hysteresis;
  /** The alarm active now: its id and raise time go on its clear too. */
  private open: { id: string; raisedAt: number } | null = null;

  constructor(
    raiseAfter: number,
    clearAfter: number,
    private readonly store: VerdictStore,
    private readonly report: (err: Error, msg: { payload: Alarm }) => void,
  ) {
    this.hysteresis = new Hysteresis(raiseAfter, clearAfter);
  }

  get active(): boolean {
    return this.hysteresis.active;
  }

  /** The Alarm message this Inference causes (a raise or a clear), or null. */
  update(inf: Inference): AlarmMessage | null {
    const transition = this.hysteresis.update(inf.anomaly === true);
    if (!transition) return null;
    const a = this.alarm(transition, inf);
    return { ...(a.context ? { topic: `${unsLinePath(a.context)}/_alarms/${a.model.name}` } : {}), payload: a };
  }

  private alarm(state: "raised" | "cleared", inf: Inference): Alarm {
    const contributors = Object.entries(inf.contributions ?? {})
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([feature, contribution]) => ({ feature, contribution, share: inf.score ? contribution / inf.score : 0 }));
    if (state === "raised" || !this.open) this.open = { id: `${inf.model.name}-${inf.model.sha256.slice(0, 8)}-${inf.ts}`, raisedAt: inf.ts };
    const a: Alarm = {
      kind: "alarm", id: this.open.id, state, ts: inf.ts, raisedAt: this.open.raisedAt, model: inf.model,
      score: inf.score ?? NaN, threshold: inf.threshold ?? NaN,
      consecutive: state === "raised" ? this.hysteresis.raiseAfter : this.hysteresis.clearAfter, contributors,
      ...(inf.context ? { context: inf.context } : {}),
    };
    if (state === "cleared") this.open = null;
    try {
      this.store.recordAlarm(a);
    } catch (err) {
      // The alarm still goes out; only the later verdict on it cannot be stored.
      this.report(new Error(`alarm ${a.id} not stored for verdicts: ${toError(err).message}`), { payload: a });
    }
    return a;
  }
}
