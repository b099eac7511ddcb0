/**
 * One queue per folder: two conduits writing the same segments would corrupt each other. The
 * folder's LOCK file holds the owner's pid; a lock left by a process that no longer exists (a
 * kill -9) is taken over, and folders open in this process are tracked in memory.
 */
import * as fs from "fs";
import * as path from "path";

/** Folders open in this process: two conduits on one folder would corrupt each other. */
const openFolders = new Set<string>();

/** Takes the folder's LOCK (pid inside); a lock left by a dead process (kill -9) is taken over. */
export function lockFolder(dir: string): string {
  const key = path.resolve(dir);
  const lock = path.join(dir, "LOCK");
  if (openFolders.has(key)) throw new Error(`queue folder ${dir} is already used by another conduit`);
  let owner = NaN;
  try {
    owner = Number(fs.readFileSync(lock, "utf8").trim());
  } catch { /* no lock */ }
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
    throw new Error(`queue folder ${dir} is in use by process ${owner}`);
  }
  fs.writeFileSync(lock, String(process.pid));
  openFolders.add(key);
  return lock;
}

export function unlockFolder(dir: string, lock: string): void {
  openFolders.delete(path.resolve(dir));
  fs.rmSync(lock, { force: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
