/**
 * Field-level differences between two config values, in words a reviewer reads: rows of tag
 * lists, register maps and rule sets are matched by their key (tag, nodeId, name, ...), not by
 * position, so inserting one tag does not "change" every row after it; fields the editor stores
 * as JSON text are compared as the data they hold.
 */
import { isObject } from "./flow-file";

/** Keys that identify a row in the pack's tables, most specific first. */
export const ROW_KEYS = ["tag", "nodeId", "feature", "name", "id", "topic", "address"] as const;

export type PathSegment = { field: string } | { row: string; key: string } | { index: number };

export interface Change {
  path: PathSegment[];
  kind: "changed" | "added" | "removed";
  before?: unknown;
  after?: unknown;
}

export function diffValues(before: unknown, after: unknown, path: PathSegment[] = []): Change[] {
  const a = asData(before);
  const b = asData(after);
  if (deepEqual(a, b)) return [];
  if (isObject(a) && isObject(b)) {
    const out: Change[] = [];
    const keys = [...Object.keys(a), ...Object.keys(b).filter((k) => !(k in a))];
    for (const k of keys) {
      const p = [...path, { field: k }];
      if (!(k in b)) out.push({ path: p, kind: "removed", before: a[k] });
      else if (!(k in a)) out.push({ path: p, kind: "added", after: b[k] });
      else out.push(...diffValues(a[k], b[k], p));
    }
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const key = rowKey(a, b);
    return key ? diffRows(a as Record<string, unknown>[], b as Record<string, unknown>[], key, path) : diffPositional(a, b, path);
  }
  return [{ path, kind: "changed", before: a, after: b }];
}

/** The key every row of both arrays has, with unique values: rows are matched by it. */
function rowKey(a: unknown[], b: unknown[]): string | null {
  const rows = [...a, ...b];
  if (rows.length === 0 || !rows.every(isObject)) return null;
  for (const key of ROW_KEYS) {
    const ok = [a, b].every((list) => {
      const values = (list as Record<string, unknown>[]).map((r) => r[key]);
      return values.every((v) => typeof v === "string" || typeof v === "number") && new Set(values).size === values.length;
    });
    if (ok) return key;
  }
  return null;
}

function diffRows(a: Record<string, unknown>[], b: Record<string, unknown>[], key: string, path: PathSegment[]): Change[] {
  const out: Change[] = [];
  const after = new Map(b.map((r) => [String(r[key]), r]));
  const before = new Map(a.map((r) => [String(r[key]), r]));
  for (const row of a) {
    const id = String(row[key]);
    const p = [...path, { row: id, key }];
    const other = after.get(id);
    if (!other) out.push({ path: p, kind: "removed", before: row });
    else out.push(...diffValues(withoutKey(row, key), withoutKey(other, key), p));
  }
  for (const row of b) if (!before.has(String(row[key]))) out.push({ path: [...path, { row: String(row[key]), key }], kind: "added", after: row });
  return out;
}

function diffPositional(a: unknown[], b: unknown[], path: PathSegment[]): Change[] {
  // Lists of scalars (feature names, topics) read best as a whole: "[a, b] -> [a, c]".
  if ([...a, ...b].every((v) => !isObject(v) && !Array.isArray(v))) return [{ path, kind: "changed", before: a, after: b }];
  const out: Change[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const p = [...path, { index: i }];
    if (i >= b.length) out.push({ path: p, kind: "removed", before: a[i] });
    else if (i >= a.length) out.push({ path: p, kind: "added", after: b[i] });
    else out.push(...diffValues(a[i], b[i], p));
  }
  return out;
}

function withoutKey(row: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _omit, ...rest } = row;
  return rest;
}

/** A string holding a JSON object or array (as editor forms often store tables) is compared as data. */
export function asData(v: unknown): unknown {
  if (typeof v !== "string") return v;
  const t = v.trim();
  if (!(t.startsWith("[") && t.endsWith("]")) && !(t.startsWith("{") && t.endsWith("}"))) return v;
  try {
    return JSON.parse(t);
  } catch {
    return v;
  }
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** "rules tag pump1.current range badAbove" style: a keyed row reads "tag pump1.current" and stands for its table. */
export function renderPath(path: readonly PathSegment[]): string {
  const words: string[] = [];
  path.forEach((seg, i) => {
    if ("field" in seg) {
      // The table's own name is implied by the row that follows it ("tag pump1.current").
      const next = path[i + 1];
      if (next && "row" in next) return;
      words.push(seg.field);
    } else if ("row" in seg) words.push(`${seg.key} ${seg.row}`);
    else words.push(`[${seg.index + 1}]`);
  });
  return words.join(" ");
}

/** A value as it reads in a sentence: short JSON, strings unquoted when they are plain words. */
export function showValue(v: unknown, max = 80): string {
  if (v === undefined) return "(unset)";
  if (typeof v === "string") return v === "" ? '""' : /^[\w.:/@+#=;-]+$/.test(v) ? v : JSON.stringify(v);
  const text = JSON.stringify(v) ?? String(v);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
