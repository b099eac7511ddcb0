/**
 * JSON sensors: a mapping from payload fields to tags, units and timestamps. Each mapping row
 * applies to the topics matching its MQTT filter; `tag` may name topic levels as {0}, {1}, ...
 * so one row serves a fleet of identical sensors (`sensors/+/telemetry`, tag `{1}.temperature`).
 * Without rows, every scalar top-level field becomes `<topic levels joined by .>.<field>`.
 * A payload that is not JSON, or that carries none of the mapped fields, is refused with a
 * reason for the node's error output; a mapped field holding an object is a bad Signal with
 * `type_mismatch` (the tag is known, its value is not usable), never a silent skip.
 */
import type { Signal, SignalValue } from "../shared";
import { topicMatchesFilter } from "../shared/envelope";

export interface JsonMappingRow {
  /** MQTT topic filter, wildcards allowed; empty = every subscribed topic. */
  topic?: string;
  /** Dotted path into the payload, e.g. "data.temp". */
  field: string;
  /** Tag name; {n} is topic level n, {field:path} a payload field. Defaults to the automatic name. */
  tag?: string;
  /** Unit; may also be {field:path}. */
  unit?: string;
  /** Dotted path of the timestamp; defaults to ts, timestamp or time at the top level. */
  tsField?: string;
  scale?: number;
  offset?: number;
}

export type DecodeResult = { signals: Signal[] } | { error: string; reason: string };

const TS_FIELDS = ["ts", "timestamp", "time"];
export const MAX_TS = 8.64e15;

/** MQTT filter match; a mapping row with no filter applies to every topic. */
export function topicMatches(filter: string, topic: string): boolean {
  return !filter || topicMatchesFilter(filter, topic);
}

function at(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split(".")) {
    if (typeof cur !== "object" || cur === null || !Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** ms since epoch from epoch ms, epoch seconds (< 1e11) or an ISO string; null if unusable. */
export function toTimestamp(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v) && v > 0) {
    const ms = v < 1e11 ? Math.round(v * 1000) : Math.round(v);
    return ms <= MAX_TS ? ms : null; // beyond year 275760 no Date can hold it
  }
  if (typeof v === "string" && v.trim()) {
    const n = Number(v);
    if (Number.isFinite(n)) return toTimestamp(n);
    // Date.parse accepts much that is not a timestamp; require an ISO-like date after 1970.
    const t = /^\d{4}-\d{2}-\d{2}/.test(v.trim()) ? Date.parse(v) : NaN;
    return Number.isFinite(t) && t > 0 && t <= MAX_TS ? t : null;
  }
  return null;
}

/** Fills {n} with topic level n and {field:path} with a payload field (e.g. a sensor's own tag). */
function fillTemplate(template: string, levels: string[], doc: unknown): string {
  return template.replace(/\{(\d+|field:[^}]+)\}/g, (_, ref: string) => {
    if (!ref.startsWith("field:")) return levels[Number(ref)] ?? "";
    const v = at(doc, ref.slice(6));
    return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : "";
  });
}

interface Names {
  tag: string;
  address: string;
  unit?: string;
}

export class JsonDecoder {
  /**
   * Tag and address strings per topic and field (or mapping row), built once: they are the
   * same for every message of a sensor, and doubles as the list of tags seen so far, so a lost
   * broker connection can mark them bad. Bounded against topics that mint a name per message.
   */
  private readonly names = new Map<string, Map<string | JsonMappingRow, Names>>();
  private readonly rowsByTopic = new Map<string, JsonMappingRow[]>();
  private nameCount = 0;
  static readonly MAX_NAMES = 100_000;

  constructor(private readonly rows: readonly JsonMappingRow[]) {}

  allLost(ts: number): Signal[] {
    const out: Signal[] = [];
    for (const byKey of this.names.values()) {
      for (const n of byKey.values()) out.push({ tag: n.tag, value: null, ts, quality: "bad", reasons: ["comm_lost"], source: { protocol: "mqtt", address: n.address } });
    }
    return out;
  }

  decode(topic: string, payload: Buffer | string, receivedAt: number): DecodeResult {
    let doc: unknown;
    try {
      doc = JSON.parse(typeof payload === "string" ? payload : payload.toString("utf8"));
    } catch (err) {
      return { reason: "malformed_json", error: `not JSON: ${(err as Error).message}` };
    }
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return { reason: "malformed_json", error: "JSON payload is not an object" };
    const obj = doc as Record<string, unknown>;
    const signals: Signal[] = [];
    if (this.rows.length === 0) {
      const stamp = this.timestamp(doc, undefined, receivedAt);
      for (const field in obj) {
        if (!Object.prototype.hasOwnProperty.call(obj, field) || TS_FIELDS.includes(field) || field === "__proto__") continue;
        const value = obj[field];
        if (typeof value === "object" && value !== null) continue; // automatic mode maps scalars only
        const names = this.namesFor(topic, field, () => ({ tag: `${topic.split("/").join(".")}.${field}`, address: `${topic}#${field}` }));
        signals.push(this.signal(names, value, stamp));
      }
    } else {
      for (const row of this.rowsFor(topic)) {
        const value = at(doc, row.field);
        if (value === undefined) continue;
        const stamp = this.timestamp(doc, row.tsField, receivedAt);
        const dynamic = row.tag?.includes("{field:") || row.unit?.includes("{field:");
        const make = (): Names => {
          const levels = topic.split("/");
          const names: Names = { tag: row.tag ? fillTemplate(row.tag, levels, doc) : `${levels.join(".")}.${row.field}`, address: `${topic}#${row.field}` };
          if (row.unit) names.unit = fillTemplate(row.unit, levels, doc);
          return names;
        };
        // Names that depend on the payload are keyed by what they resolve to.
        const names = dynamic ? this.namesFor(topic, `${row.field}\u0000${fillTemplate(row.tag ?? "", [], doc)}\u0000${fillTemplate(row.unit ?? "", [], doc)}`, make) : this.namesFor(topic, row, make);
        if (!names.tag) {
          signals.push({ tag: `${topic.split("/").join(".")}.${row.field}`, value: null, ts: stamp.ts, quality: "bad", reasons: ["tag_missing"], source: { protocol: "mqtt", address: names.address } });
          continue;
        }
        signals.push(this.signal(names, value, stamp, row));
      }
    }
    if (signals.length === 0) return { reason: "no_mapped_fields", error: `no mapped field found in the payload on ${topic}` };
    return { signals };
  }

  private namesFor(topic: string, key: string | JsonMappingRow, make: () => Names): Names {
    let byKey = this.names.get(topic);
    const known = byKey?.get(key);
    if (known) return known;
    const names = make();
    if (this.nameCount < JsonDecoder.MAX_NAMES) {
      if (!byKey) this.names.set(topic, (byKey = new Map()));
      byKey.set(key, names);
      this.nameCount++;
    }
    return names;
  }

  private rowsFor(topic: string): JsonMappingRow[] {
    let rows = this.rowsByTopic.get(topic);
    if (!rows) {
      rows = this.rows.filter((r) => topicMatches(r.topic ?? "", topic));
      if (this.rowsByTopic.size < JsonDecoder.MAX_NAMES) this.rowsByTopic.set(topic, rows);
    }
    return rows;
  }

  /** The payload's timestamp; the arrival time when there is none, flagged when it is unusable. */
  private timestamp(doc: unknown, path: string | undefined, receivedAt: number): { ts: number; invalid: boolean } {
    let raw: unknown;
    if (path) raw = at(doc, path);
    else {
      for (const field of TS_FIELDS) {
        raw = (doc as Record<string, unknown>)[field];
        if (raw !== undefined) break;
      }
    }
    if (raw === undefined) return { ts: receivedAt, invalid: false };
    const ts = toTimestamp(raw);
    return ts === null ? { ts: receivedAt, invalid: true } : { ts, invalid: false };
  }

  private signal(names: Names, raw: unknown, stamp: { ts: number; invalid: boolean }, row?: JsonMappingRow): Signal {
    const s: Signal = { tag: names.tag, value: null, ts: stamp.ts, quality: "good", source: { protocol: "mqtt", address: names.address } };
    if (names.unit) s.unit = names.unit;
    if (typeof raw === "number") {
      const scale = row?.scale ?? 1;
      const offset = row?.offset ?? 0;
      s.value = scale === 1 && offset === 0 ? raw : raw * scale + offset;
    } else if (typeof raw === "boolean" || typeof raw === "string") {
      s.value = raw as SignalValue;
    } else {
      s.quality = "bad";
      s.reasons = [raw === null ? "null_value" : "type_mismatch"];
    }
    if (stamp.invalid) {
      // The value is real, its time is not: the arrival time stands in, and says so.
      if (s.quality === "good") s.quality = "uncertain";
      s.reasons = [...(s.reasons ?? []), "ts_invalid"];
    }
    return s;
  }
}
