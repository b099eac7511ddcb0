/**
 * Historian CSV exports, SKAB format first: a header row, `;` (or tab, or `,`) separated, a
 * datetime column, one numeric column per tag, optional 0/1 label columns `anomaly` and
 * `changepoint`. Fields follow RFC 4180 (quoted headers and cells, `""` inside quotes, CRLF);
 * with `;` or tab separators a decimal comma is read ("1,5" = 1.5). Timestamps without a zone
 * are read as UTC (SKAB's are local lab time; only differences matter). Hand-written rather than
 * a dependency: this is the whole of it, and the tests cover RFC 4180's cases.
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

/**
 * RFC 4180 records: fields separated by `sep`, optionally quoted with `"` (a quoted field may
 * hold the separator, line breaks and `""` for a quote), records ended by CRLF or LF. Returns
 * each record's fields and the line it starts on (for messages). An unterminated quote throws.
 */
export function splitRecords(text: string, sep: string, source = "CSV"): Array<{ line: number; fields: string[] }> {
  const out: Array<{ line: number; fields: string[] }> = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let recordLine = 1;
  let i = 0;
  const n = text.length;
  const endRecord = (): void => {
    fields.push(field);
    // A blank line is no record (a trailing newline, an empty line between rows).
    if (!(fields.length === 1 && fields[0].trim() === "")) out.push({ line: recordLine, fields });
    fields = [];
    field = "";
  };
  while (i < n) {
    const c = text[i];
    if (c === '"' && field.trim() === "") {
      // A quoted field (leading blanks before the quote are tolerated, as spreadsheets write them).
      const quoteLine = line;
      field = "";
      i++;
      for (;;) {
        if (i >= n) throw new CsvError(`${source}: line ${quoteLine}: a quoted field is never closed`);
        const d = text[i];
        if (d === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (d === "\n") line++;
        field += d;
        i++;
      }
      // Only blanks may follow the closing quote before the separator or the end of the record.
      while (i < n && (text[i] === " " || text[i] === "\t") && text[i] !== sep) i++;
      if (i < n && text[i] !== sep && text[i] !== "\r" && text[i] !== "\n") throw new CsvError(`${source}: line ${line}: text after a closing quote`);
      continue;
    }
    if (c === sep) {
      fields.push(field);
      field = "";
      i++;
    } else if (c === "\r" || c === "\n") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += c;
      i++;
    }
  }
  if (field !== "" || fields.length > 0) endRecord();
  return out;
}

/** The separator of the header record: `;` (SKAB, and where the decimal mark is a comma), tab, else `,`. */
function detectSeparator(text: string): string {
  let quoted = false;
  const seen = { ";": 0, "\t": 0, ",": 0 } as Record<string, number>;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === "\n" || c === "\r")) break;
    else if (!quoted && c in seen) seen[c]++;
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
  if (records.length < 2) throw new CsvError(`${source}: needs a header and at least one row`);
  const cols = records[0].fields.map((c) => c.trim());
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
  const table: Table = { ts: [], tags: tagIndex.map((i) => cols[i]), rows: [], labels: {}, notNumbers: 0 };
  for (const name of labelIndex.keys()) table.labels[name] = [];
  for (const { line, fields: cells } of records.slice(1)) {
    if (cells.length !== cols.length) throw new CsvError(`${source}: line ${line} has ${cells.length} fields, header has ${cols.length}`);
    const ts = parseTimestamp(cells[timeIndex]);
    if (!Number.isFinite(ts)) throw new CsvError(`${source}: line ${line}: cannot read time "${cells[timeIndex]}"`);
    table.ts.push(ts);
    table.rows.push(
      tagIndex.map((i) => {
        const v = parseNumber(cells[i], sep);
        if (Number.isNaN(v) && cells[i].trim() !== "") table.notNumbers = (table.notNumbers ?? 0) + 1;
        return v;
      }),
    );
    for (const [name, i] of labelIndex) table.labels[name].push(parseNumber(cells[i], sep) > 0 ? 1 : 0);
  }
  return table;
}
