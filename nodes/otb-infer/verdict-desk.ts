/**
 * Operator verdicts on otb-infer's alarms, as the node receives them: a message with
 * `payload.kind === "verdict"` ({alarmId, verdict, note, user}) is stored first
 * (verdict-store.ts), then goes out as a Verdict event followed by the alarm KPI of its model and
 * week. Verdicts are optional to scoring: without a userDir (Node-RED embedded without one) or
 * with an unreadable verdict file, the node keeps scoring and keeps verdicts in memory, and says
 * so once (log and status; Catch too for the unreadable file, which a person has to fix).
 */
import { toError } from "../shared/errors";
import { unsLinePath } from "../shared/envelope";
import type { NodeContext } from "../shared/define-node";
import type { NodeMessageInFlow } from "../shared/red";
import { parseVerdictInput, verdictFilePath, VerdictStore } from "./verdict-store";

/** A type, not an interface: NodeSend takes it as a message (an interface has no index signature). */
export type EventMessage = {
  topic?: string;
  payload: unknown;
};

export class VerdictDesk {
  readonly store: VerdictStore;

  /** `report` reaches Catch nodes (held until the flow has started, see deploy-state.ts). */
  constructor(ctx: NodeContext<unknown>, report: (err: Error) => void) {
    this.store = openStore(ctx, report);
  }

  /** Verdicts live in memory only: they will not survive a restart. */
  get inMemory(): boolean {
    return this.store.file === null;
  }

  /** Stores the verdict of `msg` and returns the Verdict and KPI messages; throws ValidationError on a bad verdict. */
  judge(msg: NodeMessageInFlow): EventMessage[] {
    const client = (msg as { _client?: { user?: { username?: string; name?: string; userId?: string } } })._client?.user;
    const input = parseVerdictInput(msg.payload, client?.username ?? client?.name ?? client?.userId);
    const now = Date.now();
    const verdict = this.store.judge(input, now);
    const kpi = this.store.kpiFor(verdict.alarmId, now);
    const line = verdict.context ? unsLinePath(verdict.context) : null;
    const out: EventMessage[] = [{ ...(line ? { topic: `${line}/_events/verdict` } : {}), payload: verdict }];
    if (kpi) out.push({ ...(line ? { topic: `${line}/_events/alarm-kpi` } : {}), payload: kpi });
    return out;
  }
}

function openStore(ctx: NodeContext<unknown>, report: (err: Error) => void): VerdictStore {
  let file: string;
  try {
    file = verdictFilePath(ctx.durableDir("the verdict store"), ctx.node.id);
  } catch (err) {
    ctx.node.warn(`${toError(err).message}; operator verdicts on alarms are kept in memory only`);
    return new VerdictStore(null);
  }
  try {
    return new VerdictStore(file);
  } catch (err) {
    // Never overwrite a file we cannot read: keep verdicts in memory and say so.
    report(new Error(`verdict store ${file} unreadable, verdicts kept in memory only: ${toError(err).message}`));
    return new VerdictStore(null);
  }
}
