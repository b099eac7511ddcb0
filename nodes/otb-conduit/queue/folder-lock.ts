/**
 * One queue per folder: two conduits writing the same segments would corrupt each other. The
 * folder's LOCK file holds the owner's pid; folders open in this process are tracked in memory.
 *
 * Taking the lock is one atomic step: the pid is written to a private file that is then hard-
 * linked to LOCK, and link(2) fails with EEXIST when LOCK exists (a read-then-write lets two
 * processes both take it). LOCK therefore never exists without its pid in it.
 *
 * A LOCK whose process is gone (kill -9, power cut) is taken over, but only by the holder of a
 * second lock, LOCK.takeover, taken the same way: under it the taker reads LOCK again and
 * removes it only if its owner is still dead, then takes LOCK as above. Without that guard two
 * takers that both read the dead pid could each remove the other's fresh LOCK. The guard is held
 * for a few system calls; a guard left by a process killed in that moment (a dead pid, or older
 * than 30 s) is moved aside by rename (atomic: one remover wins), checked, and dropped.
 */
import * as fs from "fs";
import * as path from "path";

/** Folders open in this process: two conduits on one folder would corrupt each other. */
const openFolders = new Set<string>();

/** How long to wait for another process's takeover of a stale lock to finish (ms). */
const TAKEOVER_WAIT_MS = 5_000;
/** A takeover guard older than this was left by a taker that stopped (it is held for microseconds). */
const GUARD_STALE_MS = 30_000;

/** Takes the folder's LOCK (pid inside); a lock left by a dead process (kill -9) is taken over. */
export function lockFolder(dir: string): string {
  const key = path.resolve(dir);
  const lock = path.join(dir, "LOCK");
  if (openFolders.has(key)) throw new Error(`queue folder ${dir} is already used by another conduit`);
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  for (;;) {
    if (createWithPid(lock)) break;
    const owner = readPid(lock);
    if (owner !== undefined && owner !== process.pid && processAlive(owner)) throw new Error(`queue folder ${dir} is in use by process ${owner}`);
    // LOCK gone between the two calls (its owner closed): create it again; else it is stale.
    const taken = owner === undefined ? 0 : takeOver(lock);
    if (taken === true) break;
    if (Date.now() > deadline) throw new Error(`queue folder ${dir}: ${taken ? `process ${taken}` : "another process"} is taking over its stale lock; try again`);
    if (owner !== undefined) pause(5);
  }
  openFolders.add(key);
  return lock;
}

/** Releases the folder; LOCK is removed only while it still names this process. */
export function unlockFolder(dir: string, lock: string): void {
  openFolders.delete(path.resolve(dir));
  if (readPid(lock) === process.pid) fs.rmSync(lock, { force: true });
}

/**
 * Under LOCK.takeover: removes LOCK if its owner is dead (or this process, left from before) and
 * takes it. Returns true when taken, else the pid holding the guard or LOCK (the caller retries).
 */
function takeOver(lock: string): true | number {
  const guard = `${lock}.takeover`;
  if (!createWithPid(guard)) {
    const holder = readPid(guard);
    if (holder === undefined) return 0; // released meanwhile: retry
    if (!staleGuard(guard, holder)) return holder;
    removeStaleGuard(guard);
    return holder;
  }
  try {
    const owner = readPid(lock);
    if (owner !== undefined && owner !== process.pid && processAlive(owner)) return owner;
    // Only guard holders remove a LOCK, and a dead owner cannot: this is still the stale one.
    fs.rmSync(lock, { force: true });
    return createWithPid(lock) ? true : (readPid(lock) ?? 0);
  } finally {
    if (readPid(guard) === process.pid) fs.rmSync(guard, { force: true });
  }
}

/**
 * A guard is held for a few system calls: one naming a dead process, this process (a
 * synchronous call that never finished) or older than GUARD_STALE_MS was left behind.
 */
function staleGuard(file: string, holder: number): boolean {
  if (holder === process.pid || !processAlive(holder)) return true;
  try {
    return Date.now() - fs.statSync(file).mtimeMs > GUARD_STALE_MS;
  } catch {
    return false;
  }
}

/**
 * Two processes may find the same stale guard: rename moves it aside atomically (the second gets
 * ENOENT or moves a newer guard), and a moved guard that is not stale (taken between the other's
 * read and rename) is linked back for its holder.
 */
function removeStaleGuard(file: string): void {
  const aside = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.gone`;
  try {
    fs.renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const moved = readPid(aside);
  if (moved !== undefined && !staleGuard(aside, moved)) {
    try {
      fs.linkSync(aside, file);
    } catch {
      /* a newer guard was taken meanwhile: its holder goes on; this process retries */
    }
  }
  fs.rmSync(aside, { force: true });
}

/** Creates `file` holding this pid, atomically: false if it exists. */
function createWithPid(file: string): boolean {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, String(process.pid));
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** The pid in a lock file; undefined when it does not exist; 0 when it holds no pid (damaged). */
function readPid(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : 0;
}

function processAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A short synchronous wait: the queue opens synchronously, and this runs only while contended. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
