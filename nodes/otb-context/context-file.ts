/**
 * Keeps an otb-context node's operator context (product, batch, order, manual mode) across
 * restarts in a small JSON file under Node-RED's user directory:
 *   <userDir>/otbridge/context/<node id>.json
 *
 * Why a file and not a context store: Node-RED's default context store is memory only, a
 * persistent one needs a settings.js change we cannot assume, and the localfilesystem store
 * flushes every 30 s, so a crash right after a product change would lose it. A change of
 * product is rare and important, so it is written at once, atomically (temp file + rename),
 * and the file is plain JSON an engineer can read.
 */
import * as fs from "fs";
import * as path from "path";
import { isMode } from "./mode";
import type { OperatorContext } from "./stamper";

export function contextFilePath(userDir: string, nodeId: string): string {
  return path.join(userDir, "otbridge", "context", `${nodeId.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`);
}

/** Reads the saved context; a missing file is an empty context, a corrupt one an error. */
export function loadContextFile(file: string): OperatorContext {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
  const doc = JSON.parse(text) as Record<string, unknown>;
  const out: OperatorContext = {};
  for (const k of ["product", "batch", "order"] as const) if (typeof doc[k] === "string") out[k] = doc[k] as string;
  if (isMode(doc.mode)) out.mode = doc.mode;
  return out;
}

/** Serialises writes: the newest context always lands last, and close() can wait for it. */
export class ContextFile {
  private chain: Promise<void> = Promise.resolve();
  private seq = 0;

  constructor(readonly file: string, private readonly onError: (err: Error) => void) {}

  save(ctx: OperatorContext): void {
    const body = JSON.stringify({ ...ctx, savedAt: new Date().toISOString() }, null, 2) + "\n";
    const tmp = `${this.file}.${process.pid}.${++this.seq}.tmp`;
    this.chain = this.chain.then(async () => {
      try {
        await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
        const handle = await fs.promises.open(tmp, "w");
        try {
          await handle.writeFile(body, "utf8");
          await handle.sync();
        } finally {
          await handle.close();
        }
        await fs.promises.rename(tmp, this.file);
      } catch (err) {
        await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
        this.onError(err as Error);
      }
    });
  }

  /** Resolves when every save so far is on disk (or has failed and been reported). */
  flush(): Promise<void> {
    return this.chain;
  }
}
