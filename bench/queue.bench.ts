/**
 * The durable queue alone, no broker: how fast records go in (append with group commit and
 * fdatasync) and come back out (take + settle, the replay path), against raw fs doing the
 * same I/O in the same run (the topic + payload bytes written in the same batches with one
 * fdatasync each; the same file read back sequentially in 256 KiB chunks). A replay at >= 0.8
 * of raw mqtt.js (about 27k msg/s QoS 1 here) needs the read path to be far faster than that;
 * this says by how much. Also the disk bytes per record against the record's topic + payload.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DurableQueue } from "../nodes/otb-conduit/queue/durable-queue";
import type { RecordInput } from "../nodes/otb-conduit/queue/record";
import { nowMs, type Benchmark, type Figure } from "./harness";

const BATCH = 500;

/** UNS-style records like otb-publish's Signal envelopes (about 215 bytes of topic + payload). */
function records(total: number): RecordInput[] {
  return Array.from({ length: total }, (_, i) => {
    const tag = `tag${i % 20}`;
    return { ts: 1_700_000_000_000 + i, kind: 0, topic: `acme/s1/a1/l1/${tag}`,
      payload: Buffer.from(JSON.stringify({ tag, value: i, ts: 1_700_000_000_000 + i, quality: "good", unit: "A",
        source: { protocol: "sim", address: `ns=2;s=${tag}` }, context: { enterprise: "acme", site: "s1", area: "a1", line: "l1" } })) };
  });
}

async function queueRates(dir: string, input: RecordInput[]): Promise<{ append: number; read: number; bytesPerRecord: number }> {
  const open = () => DurableQueue.open({ dir, maxBytes: 1 << 30, commitIntervalMs: 5, fullPolicy: "reject-new" });
  let q = open();
  let start = nowMs();
  const outstanding: Array<Promise<unknown>> = [];
  for (let i = 0; i < input.length; i += BATCH) {
    outstanding.push(q.append(input.slice(i, i + BATCH)));
    if (outstanding.length >= 20) await outstanding.shift();
  }
  await Promise.all(outstanding);
  const append = input.length / ((nowMs() - start) / 1000);
  const bytesPerRecord = q.snapshot().bytes / input.length;
  await q.close();
  q = open();
  start = nowMs();
  let n = 0;
  for (let got = q.take(BATCH); got.length; got = q.take(BATCH)) {
    for (const r of got) q.settle(r.seq, "delivered");
    n += got.length;
  }
  const read = n / ((nowMs() - start) / 1000);
  await q.close();
  return { append, read, bytesPerRecord };
}

function rawRates(file: string, input: RecordInput[]): { append: number; read: number } {
  let start = nowMs();
  const fd = fs.openSync(file, "w");
  let pos = 0;
  for (let i = 0; i < input.length; i += BATCH) {
    const bufs: Buffer[] = [];
    for (const r of input.slice(i, i + BATCH)) bufs.push(Buffer.from(r.topic), r.payload);
    const b = Buffer.concat(bufs);
    fs.writeSync(fd, b, 0, b.length, pos);
    pos += b.length;
    fs.fdatasyncSync(fd);
  }
  fs.closeSync(fd);
  const append = input.length / ((nowMs() - start) / 1000);
  start = nowMs();
  const rfd = fs.openSync(file, "r");
  const chunk = Buffer.allocUnsafe(256 * 1024);
  for (let at = 0; at < pos;) at += fs.readSync(rfd, chunk, 0, chunk.length, at);
  fs.closeSync(rfd);
  const read = input.length / ((nowMs() - start) / 1000);
  return { append, read };
}

const bench: Benchmark = {
  name: "queue",
  description: "durable queue alone (append with group commit, take + settle replay, disk bytes per record) vs raw fs writes and reads of the same bytes",
  runs: 3,
  async run(opts) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-bench-queue-"));
    try {
      const input = records(opts.quick ? 50_000 : 300_000);
      const payload = input.reduce((s, r) => s + r.payload.length + Buffer.byteLength(r.topic), 0) / input.length;
      const q = await queueRates(path.join(dir, "q"), input);
      const raw = rawRates(path.join(dir, "raw"), input);
      const figures: Figure[] = [
        { name: `queue append, batches of ${BATCH}, group commit + fdatasync`, unit: "records/s", pack: q.append, raw: raw.append,
          higherIsBetter: true, note: "raw = the same topic + payload bytes written in the same batches, one fdatasync each" },
        { name: `queue replay read (take ${BATCH} + settle each)`, unit: "records/s", pack: q.read, raw: raw.read,
          higherIsBetter: true, note: "raw = sequential 256 KiB reads of the raw file, no parsing" },
        { name: "queue disk bytes per record", unit: "bytes", pack: q.bytesPerRecord, raw: payload,
          higherIsBetter: false, note: "raw = topic + payload bytes; goal <= 1.15x" },
      ];
      return figures;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

export = bench;
