/**
 * Historian replay: reads a recorded CSV (SKAB format first: `;`-separated, a datetime column,
 * one column per tag, optional 0/1 `anomaly` and `changepoint` columns) and hands the line its
 * rows in time order. Rows are re-based onto the simulator's time line (first row = start time,
 * intervals kept) unless the original timestamps are asked for. Anomaly runs become labels.
 * Records are read as train/csv reads them (csv-parse: quoted fields, CRLF, decimal comma).
 */
import * as fs from "fs";
import { detectSeparator, parseNumber, splitRecords, type CsvRecord } from "../train/csv";

/** SKAB column -> simulator tag. */
export const SKAB_COLUMNS: Record<string, string> = {
  Accelerometer1RMS: "pump1.vibration.de_rms",
  Accelerometer2RMS: "pump1.vibration.nde_rms",
  Current: "pump1.motor.current",
  Pressure: "pump1.discharge.pressure",
  Temperature: "pump1.motor.temperature",
  Thermocouple: "pump1.fluid.temperature",
  Voltage: "pump1.motor.voltage",
  "Volume Flow RateRMS": "pump1.flow",
};

export interface ReplayRow {
  /** Original timestamp (ms since epoch, the CSV's datetime read as UTC). */
  ts: number;
  values: Record<string, number>;
  anomaly?: boolean;
}

export interface ReplayData {
  file: string;
  rows: ReplayRow[];
  mappedColumns: Record<string, string>;
  ignoredColumns: string[];
  /** Rows skipped because the datetime could not be read (counted, not silently dropped). */
  badRows: number;
}

export class ReplayError extends Error {}

/** "2020-03-09 10:14:33" or ISO 8601; a string without a zone is UTC. */
function parseTime(text: string): number {
  const t = text.trim();
  const iso = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(t) ? t.replace(" ", "T") + "Z" : t;
  return Date.parse(iso);
}

export function loadReplay(file: string, columns: Record<string, string> = SKAB_COLUMNS): ReplayData {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ReplayError(`cannot read replay file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let records: CsvRecord[];
  let sep: string;
  try {
    sep = detectSeparator(text);
    records = splitRecords(text, sep, `replay file ${file}`);
  } catch (err) {
    throw new ReplayError((err as Error).message);
  }
  const headerRecord = records[0];
  if (!headerRecord || records.length < 2) throw new ReplayError(`replay file ${file} has no data rows`);
  const header = headerRecord.fields.map((h) => h.trim());
  const timeCol = header.findIndex((h) => /^(datetime|timestamp|time|ts)$/i.test(h));
  if (timeCol < 0) throw new ReplayError(`replay file ${file} has no datetime column (header: ${header.join(sep)})`);
  const anomalyCol = header.findIndex((h) => h.toLowerCase() === "anomaly");
  const mapped: Record<string, string> = {};
  const ignored: string[] = [];
  header.forEach((h, i) => {
    if (i === timeCol || i === anomalyCol || h.toLowerCase() === "changepoint") return;
    if (columns[h]) mapped[h] = columns[h];
    else ignored.push(h);
  });
  if (Object.keys(mapped).length === 0) throw new ReplayError(`replay file ${file} has no column the simulator knows (${Object.keys(columns).join(", ")})`);
  const idx = Object.entries(mapped).map(([col, tag]) => [header.indexOf(col), tag] as const);
  const rows: ReplayRow[] = [];
  let badRows = 0;
  for (const { fields: cells } of records.slice(1)) {
    const ts = parseTime(cells[timeCol] ?? "");
    if (!Number.isFinite(ts)) {
      badRows++;
      continue;
    }
    const values: Record<string, number> = {};
    // A cell that is not a number replays as NaN: the historian's gap stays visible downstream.
    // With `;` or tab separators a decimal comma reads as the spreadsheet meant it ("1,5" = 1.5).
    for (const [i, tag] of idx) values[tag] = parseNumber(cells[i] ?? "", sep);
    const row: ReplayRow = { ts, values };
    if (anomalyCol >= 0) row.anomaly = parseNumber(cells[anomalyCol] ?? "", sep) >= 0.5;
    rows.push(row);
  }
  if (rows.length === 0) throw new ReplayError(`replay file ${file} has no readable rows`);
  rows.sort((a, b) => a.ts - b.ts);
  return { file, rows, mappedColumns: mapped, ignoredColumns: ignored, badRows };
}

/** Contiguous anomaly=1 runs as [startIndex, endIndex] (end inclusive). */
export function anomalyRuns(rows: ReplayRow[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let open = -1;
  rows.forEach((row, i) => {
    if (row.anomaly && open < 0) open = i;
    if (!row.anomaly && open >= 0) {
      runs.push([open, i - 1]);
      open = -1;
    }
  });
  if (open >= 0) runs.push([open, rows.length - 1]);
  return runs;
}
