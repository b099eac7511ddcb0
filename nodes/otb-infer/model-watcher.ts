/**
 * Notices when a model file or its card changes: fs.watch on their folder for promptness (a
 * trainer replaces files by rename, which a watch on the file itself would miss), and a stat
 * poll as the fallback for file systems where fs.watch is silent (network shares, some
 * containers). Both only trigger a comparison of (size, mtime, inode), so a change is reported
 * once, after it has been quiet for `settleMs` (a model and its card are written one after the other).
 */
import * as fs from "fs";
import * as path from "path";

export interface WatchOptions {
  pollMs: number;
  settleMs: number;
  /** false: poll only (what happens where fs.watch is unsupported). */
  fsWatch?: boolean;
}

export class ModelWatcher {
  private watchers: fs.FSWatcher[] = [];
  private poll: NodeJS.Timeout | null = null;
  private settle: NodeJS.Timeout | null = null;
  private signature: string;
  private closed = false;

  constructor(private readonly files: string[], private readonly options: WatchOptions, private readonly onChange: () => void) {
    this.signature = this.read();
    const dirs = options.fsWatch === false ? [] : new Set(files.map((f) => path.dirname(f)));
    for (const dir of dirs) {
      const names = new Set(files.filter((f) => path.dirname(f) === dir).map((f) => path.basename(f)));
      try {
        const w = fs.watch(dir, { persistent: false }, (_event, name) => {
          if (!name || names.has(String(name))) this.check();
        });
        w.on("error", () => w.close()); // the poll still covers this folder
        this.watchers.push(w);
      } catch {
        // fs.watch unsupported here: the poll alone notices changes.
      }
    }
    this.poll = setInterval(() => {
      if (!this.settle && this.read() !== this.signature) this.check();
    }, options.pollMs);
    this.poll.unref?.();
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.poll) clearInterval(this.poll);
    if (this.settle) clearTimeout(this.settle);
  }

  private read(): string {
    return this.files
      .map((f) => {
        try {
          const s = fs.statSync(f);
          return `${s.size}:${s.mtimeMs}:${s.ino}`;
        } catch {
          return "absent";
        }
      })
      .join("|");
  }

  /** Reports a change once the files have stayed the same for settleMs (both written, not half-way). */
  private check(): void {
    if (this.closed) return;
    if (this.settle) clearTimeout(this.settle);
    let seen = this.read();
    const wait = (): void => {
      this.settle = setTimeout(() => {
        this.settle = null;
        if (this.closed) return;
        const now = this.read();
        if (now !== seen) {
          seen = now; // still being written: wait for quiet
          wait();
          return;
        }
        if (now === this.signature) return;
        this.signature = now;
        this.onChange();
      }, this.options.settleMs);
      this.settle.unref?.();
    };
    wait();
  }
}
