/**
 * The durable queue's folder lock (nodes/otb-conduit/queue/folder-lock.ts) between real
 * processes: two child processes race for the same folder, free or left locked by a process that
 * no longer exists, many rounds, and exactly one wins each; a lock left by kill -9 is taken
 * over; a live owner's lock never is.
 */
import { strict as assert } from "assert";
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { lockFolder, unlockFolder } from "../../nodes/otb-conduit/queue/folder-lock";
import { waitFor } from "../helpers/peers";

const LOCK_MODULE = path.resolve(__dirname, "..", "..", "nodes", "otb-conduit", "queue", "folder-lock.js");

/** A child that takes the lock of the folder it is told to, at the moment it is told to. */
const RACER = `
const { lockFolder } = require(${JSON.stringify(LOCK_MODULE)});
process.on("message", (m) => {
  if (m.cmd === "exit") return process.exit(0);
  while (Date.now() < m.at) { /* spin to the start line, so both call lockFolder together */ }
  try {
    lockFolder(m.dir);
    process.send({ round: m.round, pid: process.pid, ok: true });
  } catch (err) {
    process.send({ round: m.round, pid: process.pid, ok: false, error: err.message });
  }
});
process.send({ ready: true });
`;

interface Reply {
  round: number;
  pid: number;
  ok: boolean;
  error?: string;
}

function startRacer(): Promise<{ child: ChildProcess; replies: Reply[] }> {
  const child = spawn(process.execPath, ["-e", RACER], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    const replies: Reply[] = [];
    child.on("message", (m: Reply & { ready?: boolean }) => {
      if (m.ready) resolve({ child, replies });
      else replies.push(m);
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`racer exited with ${code} before it was ready`)));
  });
}

/** The pid of a process that has exited (its LOCK is what a kill -9 leaves). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("conduit queue: folder lock between processes", function () {
  this.timeout(120_000);
  let root: string;
  const children: ChildProcess[] = [];

  beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), "otb-lock-"))));
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    fs.rmSync(root, { recursive: true, force: true });
  });

  async function racers(): Promise<Array<{ child: ChildProcess; replies: Reply[] }>> {
    const rs = await Promise.all([startRacer(), startRacer()]);
    for (const r of rs) {
      r.child.removeAllListeners("exit");
      children.push(r.child);
    }
    return rs;
  }

  /** Runs `rounds` races; `prepare` lays out each round's folder. */
  async function race(rounds: number, prepare: (dir: string) => void): Promise<void> {
    const rs = await racers();
    const pids = rs.map((r) => r.child.pid!);
    for (let round = 0; round < rounds; round++) {
      const dir = path.join(root, `r${round}`);
      fs.mkdirSync(dir);
      prepare(dir);
      const at = Date.now() + 25;
      for (const r of rs) r.child.send({ cmd: "race", dir, at, round });
      await waitFor(() => rs.every((r) => r.replies.some((m) => m.round === round)), 30_000, `round ${round}: both racers answer`);
      const results = rs.map((r) => r.replies.find((m) => m.round === round)!);
      const winners = results.filter((m) => m.ok);
      assert.equal(winners.length, 1, `round ${round}: exactly one process holds the folder: ${JSON.stringify(results)}`);
      const winner = winners[0]!.pid;
      const loser = results.find((m) => !m.ok)!;
      assert.equal(loser.error, `queue folder ${dir} is in use by process ${winner}`, `round ${round}`);
      assert.equal(fs.readFileSync(path.join(dir, "LOCK"), "utf8"), String(winner), `round ${round}: LOCK names the winner`);
      assert.ok(pids.includes(winner));
      assert.deepEqual(fs.readdirSync(dir).sort(), ["LOCK"], `round ${round}: no temporary or guard file left`);
    }
    for (const r of rs) r.child.send({ cmd: "exit" });
  }

  it("two processes racing for a free folder: exactly one takes it, 100 rounds", async () => {
    await race(100, () => undefined);
  });

  it("two processes racing to take over a dead process's lock: exactly one takes it, 200 rounds", async () => {
    const dead = await deadPid();
    await race(200, (dir) => {
      assert.ok(!alive(dead), "the stale pid is still unused");
      fs.writeFileSync(path.join(dir, "LOCK"), String(dead));
    });
  });

  it("takes over the lock of a conduit process killed with kill -9, and never the lock of a live one", async () => {
    const dir = path.join(root, "q");
    fs.mkdirSync(dir);
    const holder = spawn(process.execPath, ["-e", `require(${JSON.stringify(LOCK_MODULE)}).lockFolder(${JSON.stringify(dir)}); console.log("locked"); setInterval(() => {}, 1000);`], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(holder);
    let out = "";
    holder.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes("locked"), 30_000, "the holder has the lock");
    assert.throws(() => lockFolder(dir), new RegExp(`is in use by process ${holder.pid}$`));
    assert.equal(fs.readFileSync(path.join(dir, "LOCK"), "utf8"), String(holder.pid), "a refused taker leaves the owner's lock alone");
    holder.kill("SIGKILL");
    await waitFor(() => holder.signalCode === "SIGKILL", 30_000, "the holder is gone");
    const lock = lockFolder(dir);
    try {
      assert.equal(fs.readFileSync(lock, "utf8"), String(process.pid));
      assert.throws(() => lockFolder(dir), /already used by another conduit/);
    } finally {
      unlockFolder(dir, lock);
    }
    assert.ok(!fs.existsSync(lock), "closing removes the lock");
  });

  it("a takeover guard left by a taker that died (or stopped over 30 s ago) does not block the folder", async () => {
    const dead = await deadPid();
    for (const guardPid of [dead, process.ppid]) {
      const dir = fs.mkdtempSync(path.join(root, "g"));
      fs.writeFileSync(path.join(dir, "LOCK"), String(dead));
      const guard = path.join(dir, "LOCK.takeover");
      fs.writeFileSync(guard, String(guardPid));
      const old = new Date(Date.now() - 60_000);
      if (guardPid !== dead) fs.utimesSync(guard, old, old); // a live pid, but a guard held a minute
      const lock = lockFolder(dir);
      assert.equal(fs.readFileSync(lock, "utf8"), String(process.pid));
      assert.deepEqual(fs.readdirSync(dir), ["LOCK"]);
      unlockFolder(dir, lock);
    }
  });

  it("closing leaves a lock that names another process alone", () => {
    const dir = path.join(root, "other");
    fs.mkdirSync(dir);
    const lock = lockFolder(dir);
    fs.writeFileSync(lock, String(process.ppid)); // as if another process had taken it meanwhile
    unlockFolder(dir, lock);
    assert.equal(fs.readFileSync(lock, "utf8"), String(process.ppid));
  });
});
