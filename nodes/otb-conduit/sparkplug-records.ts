/**
 * What the Sparkplug conduit keeps on disk: one queue record per metric value (topic = metric
 * name, payload = a small JSON with the datatype and value, bigints as decimal strings), and
 * the last bdSeq in `<queue dir>/sparkplug-bdseq`, written atomically (temp file, fdatasync,
 * rename) before each CONNECT so that it survives restarts.
 */
import * as fs from "fs";
import * as path from "path";
import { DataType, type MetricValue } from "../shared/sparkplug";

/** How otb-publish stores one metric value in a queue record (topic = metric name). */
export interface MetricRecord {
  d: DataType;
  v: number | boolean | string | null;
  /** the value was a bigint, carried as a decimal string */
  b?: 1;
}

export function encodeMetricRecord(datatype: DataType, value: MetricValue | null): Buffer {
  const r: MetricRecord = typeof value === "bigint" ? { d: datatype, v: value.toString(), b: 1 }
    : { d: datatype, v: value instanceof Uint8Array ? Buffer.from(value).toString("base64") : value };
  return Buffer.from(JSON.stringify(r));
}

/** Throws on anything that is not a metric record (a plain-mode JSON envelope, say). */
export function decodeMetricRecord(payload: Buffer): { datatype: DataType; value: MetricValue | null } {
  const r = JSON.parse(payload.toString("utf8")) as MetricRecord;
  if (typeof r !== "object" || r === null || !Number.isInteger(r.d) || !(r.d in DataType) || !("v" in r)) {
    throw new Error("no datatype and value");
  }
  return { datatype: r.d, value: r.b ? BigInt(r.v as string) : r.v };
}

export function readBdSeq(file: string): number {
  try {
    const n = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(n) && n >= 0 && n < 256 ? n : 255;
  } catch {
    return 255; // the first CONNECT then uses bdSeq 0
  }
}

export function writeBdSeq(file: string, value: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, String(value));
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
