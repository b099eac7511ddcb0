/**
 * `otbridge simulate` as a user runs it: help and scenario list, one-line errors with exit 2 for
 * bad arguments (never a stack trace), a busy port reported plainly, and a clean Ctrl-C shutdown
 * that closes every port and leaves a complete labels file.
 */
import * as assert from "assert";
import { execFile, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import ModbusRTU from "modbus-serial";
import { X509Certificate } from "crypto";
import { OPCUAClient } from "node-opcua";
import { SPEED_MAX, SPEED_MIN } from "../../cli/sim/clock";
import { SCENARIOS } from "../../cli/sim/scenarios";
import { canConnect, waitFor } from "../helpers/peers";

const CLI = path.resolve(__dirname, "..", "..", "cli", "otbridge.js");

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  // A deadline for a loaded machine (the suite runs beside two CPU hogs), not a speed requirement.
  const r = spawnSync(process.execPath, [CLI, "simulate", ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `otbridge <args>` run to its end; 60 s is a deadline for a loaded machine, not a speed requirement. */
function runCli(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr });
    });
  });
}

/**
 * The argument checks' runs, each started once and kept by its arguments. A describe's before()
 * starts all of its runs, a few at a time: each is a Node.js start that mostly waits for a CPU
 * on a loaded machine (0.1 s of CPU, 1.5-2.6 s of wall time beside two CPU hogs), so they overlap
 * well; each test then checks its own run's result, as it did when it ran the command itself.
 */
class CliRuns {
  private readonly runs = new Map<string, Promise<CliResult>>();
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly atOnce: number) {}

  get(args: string[]): Promise<CliResult> {
    const key = JSON.stringify(args);
    let run = this.runs.get(key);
    if (!run) {
      run = this.limited(() => runCli(args));
      this.runs.set(key, run);
    }
    return run;
  }

  startAll(all: string[][]): void {
    for (const args of all) void this.get(args);
  }

  private async limited(fn: () => Promise<CliResult>): Promise<CliResult> {
    if (this.active >= this.atOnce) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

describe("sim: otbridge simulate (CLI)", function () {
  this.timeout(120_000); // each start of the CLI is a Node.js process: seconds apiece beside two CPU hogs

  it("--help documents every option and exits 0", () => {
    const r = run(["--help"]);
    assert.strictEqual(r.code, 0);
    for (const opt of ["--scenario", "--seed", "--speed", "--opcua-port", "--modbus-port", "--mqtt-url", "--labels", "--replay", "--list"]) assert.ok(r.stdout.includes(opt), opt);
  });

  it("--list shows every scenario and fault kind", () => {
    const r = run(["--list"]);
    assert.strictEqual(r.code, 0);
    for (const s of SCENARIOS) assert.ok(r.stdout.includes(s.name), s.name);
    assert.ok(r.stdout.includes("mqtt_offline"));
  });

  const bad: Array<[string[], RegExp]> = [
    [["--speed", "abc"], /--speed must be a number/],
    [["--speed", "0"], /--speed must be a number/],
    [["--scenario", "nope"], /unknown scenario "nope"/],
    [["--seed", "-1"], /--seed must be a whole number/],
    [["--opcua-port", "70000"], /--opcua-port must be a whole number/],
    [["--replay", "/nonexistent/x.csv"], /cannot read replay file/],
    [["--bogus"], /unknown option --bogus/],
    [["--faults", "spike,nope"], /unknown fault kind "nope"/],
    [["--sensor-format", "xml"], /--sensor-format must be/],
    [["--mqtt-url", "localhost"], /--mqtt-url must look like/],
    [["--protocols", "opcua,ftp"], /--protocols takes/],
    [["--labels"], /--labels needs a value/],
  ];
  const badRuns = new CliRuns(4);
  before(() => badRuns.startAll(bad.map(([args]) => ["simulate", ...args])));
  for (const [args, message] of bad) {
    it(`${args.join(" ")}: one-line error, exit 2`, async () => {
      const r = await badRuns.get(["simulate", ...args]);
      assert.strictEqual(r.code, 2, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.strictEqual(lines.length, 1, r.stderr);
      assert.match(lines[0], /^otbridge: /);
      assert.match(lines[0], message);
      assert.ok(!/\n\s+at /.test(r.stderr), "no stack trace");
    });
  }

  it("a bad port in the environment is a one-line error naming the variable", () => {
    const r = spawnSync(process.execPath, [CLI, "simulate", "--protocols", "modbus"], { encoding: "utf8", timeout: 60_000, env: { ...process.env, OTB_SIM_MODBUS_PORT: "abc" } });
    assert.strictEqual(r.status, 2, r.stderr);
    assert.match(r.stderr.trim(), /^otbridge: OTB_SIM_MODBUS_PORT must be a port number, got "abc"$/);
  });

  it("a busy port is a one-line error, exit 2", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = run(["--protocols", "modbus", "--modbus-port", String(port)]);
      assert.strictEqual(r.code, 2, r.stderr);
      assert.match(r.stderr.trim(), /^otbridge: cannot listen: .*EADDRINUSE.*$/);
    } finally {
      blocker.close();
    }
  });

  it("serves until Ctrl-C, then closes every port and leaves complete labels", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-sim-cli-"));
    const labels = path.join(dir, "labels.jsonl");
    const child = spawn(process.execPath, [CLI, "simulate", "--opcua-port", "0", "--modbus-port", "0", "--mqtt-port", "0", "--speed", "100", "--scenario", "modbus-exception", "--seed", "3", "--labels", labels], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += String(d)));
    child.stderr.on("data", (d) => (err += String(d)));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await waitFor(() => out.includes("ready"), 90_000, "the simulator to be ready");
      const modbusPort = Number(/Modbus TCP\s+127\.0\.0\.1:(\d+)/.exec(out)![1]);
      const opcuaPort = Number(/opc\.tcp:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
      const mqttPort = Number(/mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
      const client = new ModbusRTU();
      await client.connectTCP("127.0.0.1", { port: modbusPort });
      client.setID(1);
      client.setTimeout(1000);
      assert.strictEqual((await client.readHoldingRegisters(0, 1)).data[0], 100, "meter1.ct_ratio");
      client.close(() => undefined);
      await waitFor(() => fs.existsSync(labels) && fs.readFileSync(labels, "utf8").includes("modbus_exception"), 10_000, "a label on file");
      child.kill("SIGINT");
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("timeout"), 10_000))]);
      assert.strictEqual(code, 0, `exit code (stderr: ${err})`);
      assert.ok(out.includes("stopped after"), out);
      for (const port of [modbusPort, opcuaPort, mqttPort]) assert.strictEqual(await canConnect(port), false, `port ${port} closed`);
      const lines = fs.readFileSync(labels, "utf8").trim().split("\n");
      for (const l of lines) assert.strictEqual(JSON.parse(l).fault, "modbus_exception");
      assert.strictEqual(err.trim(), "", "nothing on stderr");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--replay exits by itself when the recording ends", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-sim-cli-"));
    const csv = path.join(dir, "short.csv");
    fs.writeFileSync(csv, ["datetime;Current;Pressure", "2020-03-09 10:14:33;1.3;0.05", "2020-03-09 10:14:34;1.4;0.06", "2020-03-09 10:14:35;1.5;0.07"].join("\n") + "\n");
    const r = run(["--replay", csv, "--speed", "100", "--protocols", "modbus", "--modbus-port", "0"]);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stdout, /replaying 3 rows/);
    assert.match(r.stdout, /replay finished/);
  });

  it("prints the OPC UA certificate's SHA-256 fingerprint: that of the certificate it serves, which names the otbridge simulator", async () => {
    const child = spawn(process.execPath, [CLI, "simulate", "--protocols", "opcua", "--opcua-port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += String(d)));
    const client = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 } });
    try {
      await waitFor(() => out.includes("ready"), 90_000, "the simulator to be ready");
      const printed = /OPC UA certificate SHA-256 ([0-9A-F:]+)/.exec(out)?.[1];
      assert.match(printed ?? "", /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, out);
      const url = /opc\.tcp:\/\/127\.0\.0\.1:\d+/.exec(out)![0];
      // What a client receives (GetEndpoints), hashed here independently of the simulator's code.
      await client.connect(url);
      const endpoints = await client.getEndpoints();
      const served = endpoints.map((e) => e.serverCertificate).find((c) => c && c.length > 0)!;
      const cert = new X509Certificate(served);
      const hex = cert.fingerprint256;
      assert.strictEqual(printed, hex);
      assert.match(cert.subject, /CN=otbridge line simulator/);
      assert.doesNotMatch(cert.subject + cert.issuer, /NodeOPCUA|Sterfive/, "no library default in the certificate");
    } finally {
      await client.disconnect().catch(() => undefined);
      child.kill("SIGINT");
      await new Promise((r) => child.once("exit", r));
    }
  });

  describe("one --speed rule for `otbridge simulate` and `otbridge start`", () => {
    // Speed and --start-ago are checked before anything else in both commands, so an accepted
    // value shows as the next option's error (a bad --seed) and nothing starts.
    const ACCEPTED = [String(SPEED_MIN), "0.5", "1", "10", "3600", String(SPEED_MAX)];
    const REFUSED = ["0", "-1", "0.001", String(SPEED_MAX + 1), "1e6", "abc", "Infinity"];
    const START_AGO = [["--start-ago", "-5"], ["--speed", "10", "--start-ago", "30"]];
    const both = (args: string[]): string[][] => ["simulate", "start"].map((cmd) => [cmd, ...args, "--seed", "-1"]);
    const runs = new CliRuns(4);
    before(() => runs.startAll([...ACCEPTED, ...REFUSED].map((v) => ["--speed", v]).concat(START_AGO).flatMap(both)));
    const runBoth = async (args: string[]): Promise<Array<{ code: number | null; stderr: string }>> =>
      (await Promise.all(both(args).map((a) => runs.get(a)))).map((r) => ({ code: r.code, stderr: r.stderr.trim() }));
    for (const speed of ACCEPTED) {
      it(`--speed ${speed}: accepted by both`, async () => {
        for (const r of await runBoth(["--speed", speed])) assert.match(r.stderr, /^otbridge: --seed must be a whole number from 0 to 4294967295, got "-1"$/);
      });
    }
    for (const speed of REFUSED) {
      it(`--speed ${speed}: refused by both with the same message`, async () => {
        const [sim, start] = await runBoth(["--speed", speed]);
        assert.strictEqual(sim.code, 2);
        assert.deepStrictEqual(start, sim);
        assert.match(sim.stderr, new RegExp(`^otbridge: --speed must be a number from ${SPEED_MIN} to ${SPEED_MAX}, got`));
      });
    }
    it("--start-ago: the same rule in both", async () => {
      const [sim, start] = await runBoth(["--start-ago", "-5"]);
      assert.strictEqual(sim.code, 2);
      assert.deepStrictEqual(start, sim);
      assert.match(sim.stderr, /--start-ago must be a number/);
      for (const r of await runBoth(["--speed", "10", "--start-ago", "30"])) assert.match(r.stderr, /--seed must be/);
    });
    it("both helps state the time-line rule", () => {
      for (const cmd of ["simulate", "start"]) {
        const r = spawnSync(process.execPath, [CLI, cmd, "--help"], { encoding: "utf8", timeout: 60_000 });
        assert.match(r.stdout.replace(/\s+/g, " "), /never ahead of it/, cmd);
        assert.match(r.stdout, new RegExp(`${SPEED_MIN} to ${SPEED_MAX}`), cmd);
      }
    });
  });
});
