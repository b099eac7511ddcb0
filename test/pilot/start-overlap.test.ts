/**
 * `npm start` from its second run on: Node-RED starts beside the simulator and holds its flows
 * until the simulator listens (cli/flows-gate.ts, cli/pilot-env.ts). What a user sees: the flows
 * start only after the simulator is up, no connection error is reported at start, and inferences
 * arrive on the conduit's broker. The first start (no certificate yet) runs one after the other.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { resetGate, waitForGate, writeGate } from "../../cli/flows-gate";
import { lineEnv, lineNodeArgs } from "../../cli/node-red-runner";
import { startPilot, unsPrefix, type RunningPilot } from "../../cli/pilot-env";
import { opensslEnv } from "../helpers/peers";
import { PILOT_FLOW, Subscriber } from "./harness";

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("flows gate (cli/flows-gate.ts)", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-gate-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("holds until the file is written, passes its content, and gives up after the timeout", async () => {
    const file = path.join(dir, "gate");
    writeGate(file, "stale");
    resetGate(file);
    let opened: string | null | undefined;
    const waiting = waitForGate(file, 60_000, 10).then((c) => (opened = c));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(opened, undefined, "still held");
    writeGate(file);
    await waiting;
    assert.equal(opened, "open");
    resetGate(file);
    assert.equal(await waitForGate(file, 100, 10), null, "no file: null after the timeout");
    writeGate(file, "otbridge could not start: port in use");
    assert.equal(await waitForGate(file, 100, 10), "otbridge could not start: port in use");
  });
});

describe("npm start: Node-RED beside the simulator (second start)", function () {
  this.timeout(300_000);
  let userDir: string;
  let pilot: RunningPilot | undefined;
  let sub: Subscriber | undefined;
  before(() => (userDir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-overlap-"))));
  after(async () => {
    await sub?.close();
    await pilot?.stop();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  async function start(log: string[]): Promise<RunningPilot> {
    const ports = { opcua: await freePort(), modbus: await freePort(), mqtt: await freePort() };
    return startPilot({
      userDir, port: 0, flowTemplate: PILOT_FLOW, simulator: true, scenario: "normal", seed: 1, speed: 1,
      ports, baseEnv: {}, log: (l) => log.push(l),
    });
  }

  it("the first start (no certificate yet) runs one after the other; the second overlaps, starts its flows after the simulator and reports no error", async () => {
    const first: string[] = [];
    pilot = await start(first);
    const firstSettings = fs.readFileSync(path.join(userDir, "settings.js"), "utf8");
    assert.doesNotMatch(firstSettings, /storageModule/, "first start: Node-RED after the simulator, no gate");
    await pilot.stop();
    pilot = undefined;

    const log: string[] = [];
    pilot = await start(log);
    assert.match(fs.readFileSync(path.join(userDir, "settings.js"), "utf8"), /storageModule: require\(.*flows-gate\.js"\)\.gatedStorage/, "second start: gated");
    sub = await Subscriber.connect(pilot.sim!.mqttUrl!, `${unsPrefix(pilot.env)}/#`);
    await until("a published inference", () => sub!.under("/_inference/").length > 0, 180_000);

    // The line's Node-RED runs with the memory settings otbridge gives it (cli/node-red-runner.ts;
    // README "How many lines per PC": ten such processes under 1.5 GB).
    if (process.platform === "linux") {
      const pid = pilot.red.child.pid as number;
      // Node-RED renames its process ("node-red"), which overwrites /proc/<pid>/cmdline: the spawn's own record instead.
      const argv = pilot.red.child.spawnargs;
      for (const flag of lineNodeArgs()) assert.ok(argv.includes(flag), `Node-RED runs with ${flag}: ${argv.join(" ")}`);
      const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      assert.ok(environ.includes(`MALLOC_ARENA_MAX=${lineEnv().MALLOC_ARENA_MAX}`), "Node-RED's environment sets glibc's malloc arenas");
    }

    const simReady = log.findIndex((l) => l.startsWith("otbridge: simulator"));
    const flowsStarting = log.findIndex((l) => /\[info\] Starting flows/.test(l));
    assert.ok(simReady >= 0 && flowsStarting > simReady, `flows start (line ${flowsStarting}) after the simulator is up (line ${simReady})`);
    const errors = log.filter((l) => /\[error\]|ECONNREFUSED|connection refused/i.test(l));
    assert.deepEqual(errors, [], "no error reported at start");
  });

  it("a certificate the simulator replaces (left by an older version): Node-RED restarts with the new pin instead of refusing the server", async () => {
    await sub?.close();
    sub = undefined;
    await pilot?.stop();
    pilot = undefined;
    const certs = path.join(userDir, "sim-pki", "server", "own", "certs");
    fs.rmSync(path.join(userDir, "sim-pki"), { recursive: true, force: true });
    fs.mkdirSync(certs, { recursive: true });
    // Not the simulator's subject: the simulator replaces it (cli/sim/opcua-server.ts), so the pin predicted from it is stale.
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(userDir, "old-key.pem"), "-out", path.join(certs, "certificate.pem"), "-days", "1", "-subj", "/CN=old"], { stdio: "ignore", env: opensslEnv() });
    const log: string[] = [];
    pilot = await start(log);
    assert.ok(log.some((l) => /OTB_OPCUA_PINNED differ from the last start; restarting Node-RED/.test(l)), "the restart is said");
    assert.doesNotMatch(fs.readFileSync(path.join(userDir, "settings.js"), "utf8"), /storageModule/, "the second Node-RED runs without the gate");
    sub = await Subscriber.connect(pilot.sim!.mqttUrl!, `${unsPrefix(pilot.env)}/#`);
    await until("a published inference", () => sub!.under("/_inference/").length > 0, 180_000);
    const errors = log.filter((l) => /\[error\]|ECONNREFUSED|connection refused/i.test(l));
    assert.deepEqual(errors, [], "no error reported at start");
  });
});
