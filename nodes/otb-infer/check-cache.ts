/**
 * The model-check child's passes, remembered on disk (under Node-RED's userDir) so that a restart
 * with the same model does not spawn the child again: the child loads and compiles the engine's
 * WebAssembly (15 MB for onnxruntime-web) and parses the model, seconds of CPU at start-up on a
 * busy edge PC, while the in-process load needs the same CPU.
 *
 * Why a remembered pass is still safe: the child exists to keep a model that crashes onnxruntime
 * (onnxruntime#4349, #23794) from taking Node-RED down. Its verdict is a function of the model's
 * bytes, what the card asks of them and the engine build, and the key holds all three: the
 * sha256 of the bytes (re-hashed from the file on every load, before this cache is consulted),
 * the card's input, features, outputs and baseline, and the engine's name, version and kind. The
 * same bytes on the same engine parse the same way, so a crash the child would find now it would
 * have found then. A changed file, card or engine misses the cache and is checked in the child.
 * The in-process session is still checked on every load (model-check.ts). Only passes are kept;
 * a refusal is checked again each time (the user may have fixed the card). Whoever can write
 * this folder can also edit the flow's sha256 pin in the same userDir, so the cache adds no way in.
 *
 * A pass that cannot be written is not an error (the next start checks again).
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

const FORMAT = "otbridge-model-check/1";

interface Entry {
  format: string;
  key: string;
  checkedAt: string;
}

export class CheckCache {
  constructor(private readonly dir: string) {}

  private file(key: string): string {
    return path.join(this.dir, `${createHash("sha256").update(key).digest("hex")}.json`);
  }

  /** Whether the child passed exactly this key before. */
  has(key: string): boolean {
    try {
      const entry = JSON.parse(fs.readFileSync(this.file(key), "utf8")) as Partial<Entry>;
      return entry.format === FORMAT && entry.key === key;
    } catch {
      return false;
    }
  }

  /** Remembers a pass: written whole (temp file, rename), so a crash mid-write leaves no half entry. */
  add(key: string): void {
    const file = this.file(key);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      const entry: Entry = { format: FORMAT, key, checkedAt: new Date().toISOString() };
      fs.writeFileSync(tmp, JSON.stringify(entry) + "\n");
      fs.renameSync(tmp, file);
    } catch {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // nothing more to tidy: the next start checks in the child again
      }
    }
  }
}
