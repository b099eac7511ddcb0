/**
 * Test tools for damaging queue folders: fill one, list every frame of every segment (file,
 * offset, size, seq) from the bytes on disk, so a test can say exactly which records a change
 * damaged, and drain a folder checking that every record comes back unaltered.
 */
import * as fs from "fs";
import * as path from "path";
import { DurableQueue, type QueueOptions } from "../../nodes/otb-conduit/queue/durable-queue";
import { HEADER_BYTES, parseRecord } from "../../nodes/otb-conduit/queue/record";

export interface Frame {
  file: string;
  offset: number;
  size: number;
  seq: number;
}

export const idRecord = (i: number) => ({ ts: 1_700_000_000_000 + i, kind: 0, topic: `t/${i % 3}`,
  payload: Buffer.from(JSON.stringify({ i, pad: "p".repeat(i % 40) })) });

export function queueOptions(dir: string, o: Partial<QueueOptions> = {}): QueueOptions {
  return { dir, maxBytes: 64 << 20, commitIntervalMs: 2, fullPolicy: "reject-new", segmentBytes: 4096, ...o };
}

/** A closed queue folder holding records i = 0..count-1 as seqs 1..count. */
export async function fillFolder(dir: string, count: number, o: Partial<QueueOptions> = {}): Promise<void> {
  const q = DurableQueue.open(queueOptions(dir, o));
  for (let i = 0; i < count; i += 50) await q.append(Array.from({ length: Math.min(50, count - i) }, (_, k) => idRecord(i + k)));
  await q.close();
}

export function segmentFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => /^seg-\d+\.otbq$/.test(f)).sort().map((f) => path.join(dir, f));
}

export function framesOf(dir: string): Frame[] {
  const out: Frame[] = [];
  for (const file of segmentFiles(dir)) {
    const buf = fs.readFileSync(file);
    for (let at = 0; at + HEADER_BYTES <= buf.length;) {
      const r = parseRecord(buf, at);
      if (r.status !== "ok") throw new Error(`undamaged folder expected: ${file} at ${at}`);
      out.push({ file, offset: at, size: r.size, seq: r.record.seq });
      at += r.size;
    }
  }
  return out;
}

/** Opens the folder, takes and settles everything; the ids handed out, in order, and the queue. */
export async function drain(dir: string, o: Partial<QueueOptions> = {}): Promise<{ q: DurableQueue; ids: number[]; seqs: number[] }> {
  const q = DurableQueue.open(queueOptions(dir, o));
  const ids: number[] = [];
  const seqs: number[] = [];
  for (let got = q.take(300); got.length; got = q.take(300)) {
    for (const r of got) {
      const body = JSON.parse(r.payload.toString()) as { i: number };
      if (r.seq !== body.i + 1 || r.topic !== `t/${body.i % 3}`) throw new Error(`record ${r.seq} came back altered`);
      ids.push(body.i);
      seqs.push(r.seq);
      q.settle(r.seq, "delivered");
    }
  }
  return { q, ids, seqs };
}
