/** otb-oee's state across restarts: engine, input and month, in <userDir>/otbridge/oee/<node id>.json. */
import type { OeeEngine, OeeSnapshot } from "../shared/outcomes/oee";
import { loadState, saveState } from "../shared/outcomes/state-file";
import type { Months } from "./months";
import type { OeeInput } from "./oee-input";

interface Saved {
  engine: OeeSnapshot;
  input: ReturnType<OeeInput["snapshot"]>;
  month: Months["current"];
  savedAt: string;
}

/** While data flows the state is saved at most this often (and always at period ends and on close). */
const SAVE_EVERY_MS = 10_000;

export class OeeState {
  private lastSave = 0;

  /** `file` null: nothing is kept (persist off). */
  constructor(private readonly file: string | null, private readonly engine: OeeEngine, private readonly input: OeeInput, private readonly months: Months, private readonly report: (err: Error) => void) {}

  /** The saved state restored; an unreadable file is left alone and returned as an error to report. */
  load(): Error | null {
    if (!this.file) return null;
    try {
      const saved = loadState<Saved>(this.file);
      if (!saved) return null;
      this.engine.restore(saved.engine);
      this.input.restore(saved.input);
      this.months.current = saved.month ?? null;
      return null;
    } catch (err) {
      return new Error(`saved OEE state ${this.file} is unreadable, starting fresh: ${(err as Error).message}`);
    }
  }

  /** force false: only when the last save is SAVE_EVERY_MS old. */
  save(force = true): void {
    if (!this.file || (!force && Date.now() - this.lastSave < SAVE_EVERY_MS)) return;
    this.lastSave = Date.now();
    try {
      saveState(this.file, { engine: this.engine.snapshot(), input: this.input.snapshot(), month: this.months.current, savedAt: new Date().toISOString() } satisfies Saved);
    } catch (err) {
      this.report(new Error(`cannot save OEE state to ${this.file}: ${(err as Error).message}`));
    }
  }
}
