/**
 * Full-disk tools for queue tests: a real tmpfs (root only), and ENOSPC injected at fs.write
 * (sinon), either on every write or once a simulated disk of `capacity` bytes would overflow,
 * counting the segment files in the folder the way a filesystem would.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as sinon from "sinon";

export function tryMountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function unmount(dir: string): void {
  execFileSync("umount", [dir]);
}

type WriteCb = (e: NodeJS.ErrnoException | null, n?: number) => void;

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
}

export class SmallDisk {
  failures = 0;
  private constructor(private readonly stub: sinon.SinonStub) {}

  /** Every asynchronous fs.write fails with ENOSPC until restore(). */
  static failEveryWrite(): SmallDisk {
    let disk: SmallDisk | null = null;
    // The real module object: the queue's `import * as fs` reads through to it on every call.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const stub = sinon.stub(require("fs") as typeof fs, "write").callsFake(((...args: unknown[]) => {
      const cb = args[args.length - 1] as WriteCb;
      disk!.failures++;
      setImmediate(() => cb(enospc()));
    }) as never);
    disk = new SmallDisk(stub);
    return disk;
  }

  /** Writes that would grow the folder's segment files past `capacity` bytes fail with ENOSPC. */
  static simulate(dir: string, capacity: number): SmallDisk {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const real = require("fs") as typeof fs;
    const original = real.write.bind(real) as (...a: unknown[]) => void;
    let disk: SmallDisk | null = null;
    const stub = sinon.stub(real, "write").callsFake(((...args: unknown[]) => {
      const cb = args[args.length - 1] as WriteCb;
      const length = typeof args[3] === "number" ? args[3] : 0;
      const used = real.readdirSync(dir).filter((f) => f.startsWith("seg-"))
        .reduce((n, f) => n + real.statSync(path.join(dir, f)).size, 0);
      if (length > 20 && used + length > capacity) { // 20 B: the ack state's in-place slot writes
        disk!.failures++;
        setImmediate(() => cb(enospc()));
        return;
      }
      original(...args);
    }) as never);
    disk = new SmallDisk(stub);
    return disk;
  }

  restore(): void {
    this.stub.restore();
  }
}
