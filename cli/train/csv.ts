/**
 * Historian CSV exports, SKAB format first: a header row, `;` (or tab, or `,`) separated, a
 * datetime column, one numeric column per tag, optional 0/1 label columns `anomaly` and
 * `changepoint`. Fields follow RFC 4180 (quoted headers and cells, `""` inside quotes, CRLF);
 * with `;` or tab separators a decimal comma is read ("1,5" = 1.5). Timestamps without a zone
 * are read as UTC (SKAB's are local lab time; only differences matter). Records are split by
 * csv-parse (its sync API); the separator sniffing and the decimal comma are ours, because
 * csv-parse leaves numbers to the caller and a `,` decimal mark depends on the separator.
 */
import { parse } from "csv-parse/sync";
import { at } from "../checked";

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
  /** Non-empty cells that are not numbers (read as missing, and counted so the user is told). */
  notNumbers?: number;
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

/** One CSV record: its fields and the line it starts on (for messages). */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * RFC 4180 records read by csv-parse: fields separated by `sep`, optionally quoted with `"` (a
 * quoted field may hold the separator, line breaks and `""` for a quote), records ended by CRLF,
 * LF or CR (mixed in one file, as appended exports are: all become LF first, because csv-parse
 * given several record delimiters miscounts lines inside quoted fields), blanks around a field
 * trimmed (as spreadsheets write `1; "a"`), blank lines skipped. Each record keeps the line it
 * starts on: csv-parse reports where a record ends, so the start is one past the previous record
 * and the blank lines skipped since. A record of another length is returned as it is (the caller
 * says what it expects). Broken quoting throws a CsvError naming the line.
 */
export function splitRecords(text: string, sep: string, source = "CSV"): CsvRecord[] {
  const out: CsvRecord[] = [];
  let lastLine = 0;
  let lastEmpty = 0;
  try {
    parse(text.replace(/\r\n?/g, "\n"), {
      delimiter: sep,
      record_delimiter: "\n",
      quote: '"',
      escape: '"',
      bom: true,
      ltrim: true,
      rtrim: true,
      relax_column_count: true,
      skip_empty_lines: true,
      on_record: (fields: string[], context: { lines: number; empty_lines: number }) => {
        out.push({ line: lastLine + 1 + (context.empty_lines - lastEmpty), fields });
        lastLine = context.lines;
        lastEmpty = context.empty_lines;
        return null;
      },
    });
  } catch (err) {
    const e = err as Error & { code?: string; lines?: number; empty_lines?: number };
    if (e.code === "CSV_QUOTE_NOT_CLOSED") throw new CsvError(`${source}: line ${lastLine + 1 + ((e.empty_lines ?? lastEmpty) - lastEmpty)}: a quoted field is never closed`);
    if (e.code === "CSV_INVALID_CLOSING_QUOTE") throw new CsvError(`${source}: line ${e.lines ?? lastLine + 1}: text after a closing quote`);
    if (e.code?.startsWith("CSV_")) throw new CsvError(`${source}: line ${e.lines ?? lastLine + 1}: ${e.message}`);
    throw err;
  }
  return out;
}

/** The separator of the header record: `;` (SKAB, and where the decimal mark is a comma), tab, else `,`. */
export function detectSeparator(text: string): string {
  let quoted = false;
  const seen = { ";": 0, "\t": 0, ",": 0 };
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === "\n" || c === "\r")) break;
    else if (!quoted && (c === ";" || c === "\t" || c === ",")) seen[c]++;
  }
  return seen[";"] > 0 ? ";" : seen["\t"] > 0 ? "\t" : ",";
}

/**
 * A numeric cell. With `;` or tab separators the decimal mark may be a comma ("1,5" as Excel
 * writes it in German, French and many other locales); with `,` separators a comma inside a
 * quoted cell is not taken as a decimal mark, because "1,500" there means fifteen hundred.
 * Thousands separators are not guessed at: such a cell is not a number.
 */
export function parseNumber(cell: string, sep: string): number {
  let t = cell.trim();
  if (t === "") return NaN;
  if (sep !== "," && /^[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?$/.test(t)) t = t.replace(",", ".");
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(Infinity|NaN)$/.test(t)) return NaN;
  return Number(t);
}

export function parseCsv(text: string, source = "CSV"): Table {
  const body = text.replace(/^\uFEFF/, "");
  const sep = detectSeparator(body);
  const records = splitRecords(body, sep, source);
  const [header, ...dataRecords] = records;
  if (!header || dataRecords.length === 0) throw new CsvError(`${source}: needs a header and at least one row`);
  const cols = header.fields.map((c) => c.trim());
  const timeIndex = cols.findIndex((c) => TIME_COLUMNS.includes(c.toLowerCase()));
  if (timeIndex < 0) throw new CsvError(`${source}: no time column (one of ${TIME_COLUMNS.join(", ")}) in header "${cols.join(sep)}"`);
  const labelIndex = new Map<string, number>();
  const tagIndex: number[] = [];
  cols.forEach((c, i) => {
    if (i === timeIndex) return;
    if (LABEL_COLUMNS.includes(c.toLowerCase())) labelIndex.set(c.toLowerCase(), i);
    else if (c) tagIndex.push(i);
  });
  if (tagIndex.length === 0) throw new CsvError(`${source}: no tag columns besides time and labels`);
  const table: Table = { ts: [], tags: tagIndex.map((i) => at(cols, i)), rows: [], labels: {}, notNumbers: 0 };
  const labels = [...labelIndex].map(([name, i]) => ({ i, values: (table.labels[name] = []) as number[] }));
  for (const { line, fields: cells } of dataRecords) {
    // Every record has the header's length from here on, so the cells below exist.
    if (cells.length !== cols.length) throw new CsvError(`${source}: line ${line} has ${cells.length} fields, header has ${cols.length}`);
    const time = at(cells, timeIndex);
    const ts = parseTimestamp(time);
    if (!Number.isFinite(ts)) throw new CsvError(`${source}: line ${line}: cannot read time "${time}"`);
    table.ts.push(ts);
    table.rows.push(
      tagIndex.map((i) => {
        const cell = at(cells, i);
        const v = parseNumber(cell, sep);
        if (Number.isNaN(v) && cell.trim() !== "") table.notNumbers = (table.notNumbers ?? 0) + 1;
        return v;
      }),
    );
    for (const label of labels) label.values.push(parseNumber(at(cells, label.i), sep) > 0 ? 1 : 0);
  }
  return table;
}
