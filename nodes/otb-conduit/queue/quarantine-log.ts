/**
 * Records a broker refused for good (ACL, size, format) are kept, not deleted: one JSON line
 * each in `<queue dir>/quarantine/quarantine.jsonl`, with the reason and the payload in base64,
 * so an operator can inspect, fix the ACL and re-inject them. Appends are serialised and
 * fdatasync'ed before the record leaves the queue.
 */
import * as fs from "fs";
import * as path from "path";
import type { QueueRecord } from "./record";

export class QuarantineLog {
  readonly file: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    fs.mkdirSync(path.join(dir, "quarantine"), { recursive: true });
    this.file = path.join(dir, "quarantine", "quarantine.jsonl");
  }

  /** Resolves once the record is durably in the quarantine file. */
  add(record: QueueRecord, reason: string): Promise<void> {
    const line = JSON.stringify({
      at: new Date().toISOString(), reason, seq: record.seq, ts: record.ts, kind: record.kind,
      topic: record.topic, payload: record.payload.toString("base64"),
    }) + "\n";
    const next = this.chain.then(() => appendDurably(this.file, line));
    this.chain = next.catch(() => undefined);
    return next;
  }
}

async function appendDurably(file: string, line: string): Promise<void> {
  const handle = await fs.promises.open(file, "a");
  try {
    await handle.appendFile(line);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
