/**
 * The line as a whole, without any protocol: physics (or a historian replay) + faults + labels,
 * stepped on the simulated clock. Emits "sample" after every step; the protocol servers listen.
 */
import { EventEmitter } from "events";
import { FaultEngine } from "./faults";
import type { LabelWriter } from "./labels";
import { LineModel, type ScheduleOptions, type Values } from "./model";
import { anomalyRuns, type ReplayData } from "./replay";
import { Rng } from "./rng";
import type { PlanOptions, ScenarioDef } from "./scenarios";
import type { LineState } from "./tags";
import { at } from "../checked";

export interface Sample {
  ts: number;
  values: Values;
  /** OPC UA status name for tags that are not Good (e.g. BadSensorFailure). */
  bad: ReadonlyMap<string, string>;
}

export interface LineSnapshot {
  ts: number;
  state: LineState;
  product: string;
  batch: string;
  order: string;
  values: Values;
  activeFaults: Array<{ fault: string; tag: string; start: number; end: number }>;
  replay?: { row: number; rows: number; finished: boolean };
}

export interface LineOptions {
  seed: number;
  scenario: ScenarioDef;
  startTs: number;
  labels: LabelWriter;
  schedule?: Partial<ScheduleOptions>;
  plan?: PlanOptions;
  replay?: ReplayData;
  /** Replay keeps the CSV's own timestamps instead of re-basing them onto startTs. */
  replayKeepTimestamps?: boolean;
}

/** Events: "sample" (Sample), "replay-end" (). */
export class Line extends EventEmitter {
  readonly model: LineModel;
  readonly faults: FaultEngine;
  private latest: Sample | null = null;
  private replayRow = 0;
  private replayFinished = false;
  private replayValues: Record<string, number> | null = null;
  private readonly replayOffset: number;

  constructor(private readonly opts: LineOptions) {
    super();
    this.model = new LineModel(Rng.derive(opts.seed, "noise"), opts.schedule);
    this.faults = new FaultEngine(opts.scenario, opts.seed, opts.startTs, opts.labels, opts.plan);
    const first = opts.replay?.rows[0];
    this.replayOffset = first && !opts.replayKeepTimestamps ? opts.startTs - first.ts : 0;
    if (opts.replay) this.labelReplayAnomalies(opts.replay);
  }

  /** SKAB-style anomaly labels become ground truth labels up front (the recording is known). */
  private labelReplayAnomalies(replay: ReplayData): void {
    for (const [a, b] of anomalyRuns(replay.rows)) {
      const start = at(replay.rows, a).ts + this.replayOffset;
      const end = at(replay.rows, b).ts + this.replayOffset + 1000;
      this.opts.labels.write({
        id: 0,
        fault: "anomaly",
        tag: "replay",
        tags: Object.values(replay.mappedColumns),
        start,
        end,
        startIso: new Date(start).toISOString(),
        endIso: new Date(end).toISOString(),
        scenario: `replay:${replay.file}`,
        seed: this.opts.seed,
        params: { rows: `${a + 1}-${b + 1}` },
      });
    }
  }

  get replayDone(): boolean {
    return this.replayFinished;
  }

  /** One step at simulated time ts. */
  step(ts: number, dtMs: number): Sample {
    this.faults.advance(ts, this.model.disturb);
    const values = this.model.step(dtMs);
    const replay = this.opts.replay;
    if (replay) {
      while (this.replayRow < replay.rows.length && at(replay.rows, this.replayRow).ts + this.replayOffset <= ts) this.replayValues = at(replay.rows, this.replayRow++).values;
      // Between rows, and after the last one, the replayed tags hold the last recorded value
      // (as a historian does); the rest of the line (state, counters) keeps being simulated.
      if (this.replayValues) {
        Object.assign(values, this.replayValues);
        // The meter on the motor feeder measures what the recording says the motor drew.
        // (a recording without those columns leaves the simulated meter as it is)
        values["meter1.current"] = values["pump1.motor.current"] ?? values["meter1.current"] ?? NaN;
        values["meter1.voltage"] = values["pump1.motor.voltage"] ?? values["meter1.voltage"] ?? NaN;
      }
      if (!this.replayFinished && this.replayRow >= replay.rows.length) {
        this.replayFinished = true;
        this.emit("replay-end");
      }
    }
    this.faults.applySensorFaults(ts, values);
    const sample: Sample = { ts, values, bad: new Map(this.faults.badStatus) };
    this.latest = sample;
    this.emit("sample", sample);
    return sample;
  }

  snapshot(): LineSnapshot {
    const s = this.latest;
    return {
      ts: s?.ts ?? this.opts.startTs,
      state: this.model.state,
      product: this.model.product,
      batch: this.model.batch,
      order: this.model.order,
      values: { ...(s?.values ?? {}) },
      activeFaults: this.faults.activeFaults.map((f) => ({ fault: f.fault, tag: f.tag, start: f.start, end: f.end })),
      replay: this.opts.replay ? { row: this.replayRow, rows: this.opts.replay.rows.length, finished: this.replayFinished } : undefined,
    };
  }
}
