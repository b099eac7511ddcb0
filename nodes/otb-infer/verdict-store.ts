/**
 * The operator's verdicts on otb-infer's alarms, kept across restarts in one JSON file under
 * Node-RED's user directory:  <userDir>/otbridge/verdicts/<node id>.json
 *
 * The file holds the alarms this node raised (id, model, raise and clear times, score,
 * contributors) and every verdict given on them, newest last. It is written whole and atomically
 * (temp file in the same folder, fsync, rename) before the verdict event leaves the node, so an
 * event published means a verdict on disk. `otbridge train --verdicts FILE` reads the same file.
 * Alarms are rare (a few per shift), so rewriting the file per change costs nothing; the oldest
 * alarms beyond `maxAlarms` are dropped from it, and the drop is counted.
 */
import * as fs from "fs";
import * as path from "path";
import { ValidationError, VERDICT_VALUES, type Alarm, type AlarmKpi, type Context, type ModelIdentity, type Verdict, type VerdictValue } from "../shared";
import { at } from "../shared/checked";

export interface StoredVerdict {
  verdict: VerdictValue;
  note?: string;
  user: string;
  ts: number;
}

export interface StoredAlarm {
  id: string;
  model: ModelIdentity;
  raisedAt: number;
  clearedAt?: number;
  score: number;
  threshold: number;
  contributors: Alarm["contributors"];
  context?: Context;
  verdicts: StoredVerdict[];
}

export interface VerdictFile {
  format: "otbridge-verdicts/1";
  alarms: StoredAlarm[];
}

/** What an operator sends: msg.payload of a verdict message. */
export interface VerdictInput {
  alarmId: string;
  verdict: VerdictValue;
  note?: string;
  user: string;
}

export function verdictFilePath(userDir: string, nodeId: string): string {
  return path.join(userDir, "otbridge", "verdicts", `${nodeId.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`);
}

/** Reads a verdict file; a missing file is empty, anything else unreadable is an error naming it. */
export function readVerdictFile(file: string): VerdictFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { format: "otbridge-verdicts/1", alarms: [] };
    throw err;
  }
  let doc: Partial<VerdictFile>;
  try {
    doc = JSON.parse(text) as Partial<VerdictFile>;
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`);
  }
  if (doc.format !== "otbridge-verdicts/1" || !Array.isArray(doc.alarms)) throw new Error(`${file}: not an otbridge verdict file`);
  return { format: "otbridge-verdicts/1", alarms: doc.alarms };
}

/** Checks and normalises an operator's verdict message; throws ValidationError saying what is wrong. */
export function parseVerdictInput(p: unknown, fallbackUser?: string): VerdictInput {
  const o = (p && typeof p === "object" ? p : {}) as Record<string, unknown>;
  const alarmId = typeof o.alarmId === "string" ? o.alarmId.trim() : "";
  if (!alarmId) throw new ValidationError("verdict: alarmId is required");
  const verdict = String(o.verdict ?? "").trim().replace(/[\s-]+/g, "_").toLowerCase() as VerdictValue;
  if (!VERDICT_VALUES.includes(verdict)) throw new ValidationError(`verdict: "${String(o.verdict)}" is not one of ${VERDICT_VALUES.join(", ")}`);
  const user = (typeof o.user === "string" && o.user.trim()) || fallbackUser || "";
  if (!user) throw new ValidationError("verdict: user is required (who judged the alarm)");
  if (o.note !== undefined && typeof o.note !== "string") throw new ValidationError("verdict: note must be text");
  const note = typeof o.note === "string" && o.note.trim() ? o.note.trim().slice(0, 2000) : undefined;
  return { alarmId, verdict, user: user.slice(0, 256), ...(note ? { note } : {}) };
}

export class VerdictStore {
  private alarms: StoredAlarm[];
  private byId = new Map<string, StoredAlarm>();
  /** Alarms dropped from the file because it reached maxAlarms. */
  trimmed = 0;

  /** `file` null: memory only (Node-RED without a userDir). */
  constructor(readonly file: string | null, private readonly maxAlarms = 10_000) {
    this.alarms = file ? readVerdictFile(file).alarms : [];
    for (const a of this.alarms) this.byId.set(a.id, a);
  }

  get size(): number {
    return this.alarms.length;
  }

  get(id: string): StoredAlarm | undefined {
    return this.byId.get(id);
  }

  /** Records a raise (a new alarm) or a clear (its clear time); saved at once. */
  recordAlarm(a: Alarm): void {
    let stored = this.byId.get(a.id);
    if (a.state === "raised") {
      if (stored) return;
      stored = {
        id: a.id, model: a.model, raisedAt: a.raisedAt, score: a.score, threshold: a.threshold, contributors: a.contributors,
        ...(a.context ? { context: a.context } : {}), verdicts: [],
      };
      this.alarms.push(stored);
      this.byId.set(a.id, stored);
      while (this.alarms.length > this.maxAlarms) {
        this.byId.delete((this.alarms.shift() as StoredAlarm).id);
        this.trimmed++;
      }
    } else {
      if (!stored) return; // raised before this store existed (or trimmed): nothing to attach to
      stored.clearedAt = a.ts;
    }
    this.save();
  }

  /** Stores a verdict and returns the event to publish; the file is on disk when this returns. */
  judge(input: VerdictInput, now: number): Verdict {
    const a = this.byId.get(input.alarmId);
    if (!a) throw new ValidationError(`verdict: no alarm "${input.alarmId}" in this node's store`);
    const v: StoredVerdict = { verdict: input.verdict, user: input.user, ts: now, ...(input.note ? { note: input.note } : {}) };
    a.verdicts.push(v);
    try {
      this.save();
    } catch (err) {
      a.verdicts.pop();
      throw err;
    }
    return {
      kind: "verdict", alarmId: a.id, verdict: v.verdict, user: v.user, ts: v.ts, model: a.model, raisedAt: a.raisedAt,
      ...(v.note ? { note: v.note } : {}), ...(a.clearedAt !== undefined ? { clearedAt: a.clearedAt } : {}),
      ...(a.context ? { context: a.context } : {}),
    };
  }

  /** The KPI of the model and ISO week (of the raise time) that alarm `id` belongs to. */
  kpiFor(id: string, now: number): AlarmKpi | null {
    const a = this.byId.get(id);
    if (!a) return null;
    const week = isoWeek(a.raisedAt);
    return alarmKpi(this.alarms.filter((x) => x.model.sha256 === a.model.sha256 && isoWeek(x.raisedAt) === week), a.model, week, now, a.context);
  }

  private save(): void {
    if (!this.file) return;
    writeAtomic(this.file, JSON.stringify({ format: "otbridge-verdicts/1", alarms: this.alarms } satisfies VerdictFile) + "\n");
  }
}

/** Precision and time to acknowledge over a set of alarms, each judged by its latest verdict. */
export function alarmKpi(alarms: StoredAlarm[], model: ModelIdentity, week: string, now: number, context?: Context): AlarmKpi {
  let confirmed = 0;
  let falseAlarms = 0;
  let unsure = 0;
  const ack: number[] = [];
  for (const a of alarms) {
    const first = a.verdicts[0];
    const last = a.verdicts[a.verdicts.length - 1];
    if (!first || !last) continue;
    if (last.verdict === "confirmed") confirmed++;
    else if (last.verdict === "false_alarm") falseAlarms++;
    else unsure++;
    ack.push(Math.max(0, (first.ts - a.raisedAt) / 1000));
  }
  ack.sort((x, y) => x - y);
  const judged = confirmed + falseAlarms;
  const median = ack.length === 0 ? null : ack.length % 2 ? at(ack, (ack.length - 1) / 2) : (at(ack, ack.length / 2 - 1) + at(ack, ack.length / 2)) / 2;
  return {
    kind: "alarm-kpi", ts: now, model, week, alarms: alarms.length, judged, confirmed, falseAlarms, unsure,
    precision: judged > 0 ? confirmed / judged : null,
    ackMedianS: median,
    ackMeanS: ack.length === 0 ? null : ack.reduce((s, x) => s + x, 0) / ack.length,
    ...(context ? { context } : {}),
  };
}

/** ISO-8601 week of a UTC time, e.g. "2026-W02" (weeks start on Monday; week 1 holds a Thursday). */
export function isoWeek(ts: number): string {
  const d = new Date(ts);
  const day = (d.getUTCDay() + 6) % 7; // Monday 0
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * 86_400_000));
  return `${year}-W${String(week).padStart(2, "0")}`;
}

function writeAtomic(file: string, body: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeSync(fd, body);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
