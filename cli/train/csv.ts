/**
 * Historian CSV exports, SKAB format first: a header row, `;` (or `,`) separated, a datetime
 * column, one numeric column per tag, optional 0/1 label columns `anomaly` and `changepoint`.
 * Timestamps without a zone are read as UTC (SKAB's are local lab time; only differences matter).
 */
export const LABEL_COLUMNS = ["anomaly", "changepoint"];
const TIME_COLUMNS = ["datetime", "timestamp", "time", "ts", "date"];

export interface Table {
  /** ms since epoch, one per row. */
  ts: number[];
  tags: string[];
  /** rows[i][j] = value of tags[j] at ts[i]; NaN where the cell is empty or not a number. */
  rows: number[][];
  /** 0/1 label columns when the file has them. */
  labels: Record<string, number[]>;
}

export class CsvError extends Error {}

export function parseTimestamp(text: string): number {
  const t = text.trim();
  if (/^-?\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    // Seconds or milliseconds since the epoch: anything below 1e11 cannot be ms after 1973.
    return n < 1e11 ? Math.round(n * 1000) : Math.round(n);
  }
  const iso = t.includes("T") ? t : t.replace(" ", "T");
  const zoned = /(Z|[+-]\d\d:?\d\d)$/.test(iso) ? iso : `${iso}Z`;
  return Date.parse(zoned);
}

export function parseCsv(text: string, source = "CSV"): Table {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length < 2) throw new CsvError(`${source}: needs a header and at least one row`);
  const header = lines[0].replace(/^\uFEFF/, "");
  const sep = header.includes(";") ? ";" : ",";
  const cols = header.split(sep).map((c) => c.trim());
  const timeIndex = cols.findIndex((c) => TIME_COLUMNS.includes(c.toLowerCase()));
  if (timeIndex < 0) throw new CsvError(`${source}: no time column (one of ${TIME_COLUMNS.join(", ")}) in header "${header}"`);
  const labelIndex = new Map<string, number>();
  const tagIndex: number[] = [];
  cols.forEach((c, i) => {
    if (i === timeIndex) return;
    if (LABEL_COLUMNS.includes(c.toLowerCase())) labelIndex.set(c.toLowerCase(), i);
    else if (c) tagIndex.push(i);
  });
  if (tagIndex.length === 0) throw new CsvError(`${source}: no tag columns besides time and labels`);
  const table: Table = { ts: [], tags: tagIndex.map((i) => cols[i]), rows: [], labels: {} };
  for (const name of labelIndex.keys()) table.labels[name] = [];
  for (let r = 1; r < lines.length; r++) {
    const cells = lines[r].split(sep);
    if (cells.length !== cols.length) throw new CsvError(`${source}: line ${r + 1} has ${cells.length} fields, header has ${cols.length}`);
    const ts = parseTimestamp(cells[timeIndex]);
    if (!Number.isFinite(ts)) throw new CsvError(`${source}: line ${r + 1}: cannot read time "${cells[timeIndex]}"`);
    table.ts.push(ts);
    table.rows.push(tagIndex.map((i) => (cells[i].trim() === "" ? NaN : Number(cells[i]))));
    for (const [name, i] of labelIndex) table.labels[name].push(Number(cells[i]) > 0 ? 1 : 0);
  }
  return table;
}
