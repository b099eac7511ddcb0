/**
 * Real protocol peers for tests, on 127.0.0.1 and (where the server allows) port 0:
 * aedes in-process, and Debian's mosquitto as a child process when its binary is installed.
 */
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../cli/sim/broker";
import { countInterop } from "./interop";

export interface Broker {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A port that was free a moment ago (for servers that cannot listen on port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export type AedesBroker = EmbeddedBroker;

/** An aedes broker in this process, on an ephemeral loopback port (the simulator's own broker). */
export function startAedes(port = 0): Promise<AedesBroker> {
  return startEmbeddedBroker(port);
}

const MOSQUITTO_CANDIDATES = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"];

export function mosquittoPath(): string | null {
  return MOSQUITTO_CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

export interface Mosquitto extends Broker {
  child: ChildProcess;
  dir: string;
  /** Stops the process (SIGTERM) and waits for it. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port and config. */
  restart(): Promise<void>;
}

/**
 * What every test broker gets before the caller's lines (later lines win). Mosquitto keeps at most
 * 1,000 QoS 1 messages per subscriber by default and drops the rest *after* its PUBACK to the
 * publisher (`max_queued_messages`, mosquitto.conf(5)): a verifier in a loaded test process falls
 * that far behind and then misses records the publisher delivered (CI saw 327 consecutive records
 * missing after a failover's re-send). Tests measure the publisher, not the broker's queue limit.
 * A large limit, not 0: mosquitto.conf(5) says 0 means no maximum, but mosquitto 2.0.x treats it
 * as "drop every queued message" (eclipse-mosquitto/mosquitto#2879), which broke the MQTT 5 ACL
 * test here (the broker closed the connection instead of answering 0x87).
 */
const TEST_BROKER_DEFAULTS = ["max_queued_messages 1000000", "max_inflight_messages 0"];

/**
 * Starts mosquitto on loopback with the given extra config lines (listener options, TLS, ACL).
 * Throws when the binary is absent: guard with interop.mosquittoAvailable / itWithMosquitto.
 * Ready means mosquitto itself said "running" (it logs that after opening its listeners) and the
 * port answers: a port that answers because another process holds it is an error, not a broker.
 */
export async function startMosquitto(extraConfig: string[] = [], opts: { port?: number } = {}): Promise<Mosquitto> {
  const bin = mosquittoPath();
  if (!bin) throw new Error("mosquitto is not installed (apt-get install mosquitto)");
  const port = opts.port ?? (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-mosq-"));
  const conf = path.join(dir, "mosquitto.conf");
  const hasListener = extraConfig.some((l) => l.startsWith("listener"));
  fs.writeFileSync(
    conf,
    [
      ...(hasListener ? [] : [`listener ${port} 127.0.0.1`, "allow_anonymous true"]),
      "persistence false",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "log_type information",
      ...TEST_BROKER_DEFAULTS,
      ...extraConfig,
    ].join("\n") + "\n",
  );
  let child: ChildProcess = null as unknown as ChildProcess;
  const launch = async (): Promise<void> => {
    child = spawn(bin, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let running = false;
    // Only the newest 8 KB: information logging goes on for the broker's whole life.
    child.stderr!.on("data", (d) => {
      stderr = (stderr + String(d)).slice(-8192);
      if (/mosquitto version \S+ running/.test(stderr)) running = true;
    });
    const deadline = Date.now() + 10_000;
    while (!(running && (await canConnect(port)))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`mosquitto exited (port ${port}): ${stderr}`);
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}: ${stderr}`);
      await delay(50);
    }
  };
  const waitExit = (signal: NodeJS.Signals): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill(signal);
    });
  await launch();
  countInterop("mosquittoStarted");
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    dir,
    get child() {
      return child;
    },
    stop: () => waitExit("SIGTERM"),
    kill: () => waitExit("SIGKILL"),
    restart: launch,
    close: async () => {
      await waitExit("SIGTERM");
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function canConnect(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` until it is true or `timeoutMs` passes; the error names what was awaited. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = "condition", stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(stepMs);
  }
}

/**
 * The environment for an `openssl` child process. node-opcua-pki sets OPENSSL_CONF and RANDFILE
 * in process.env when it loads (sometimes to "undefined" or a temporary file), which breaks every
 * later openssl command in the same mocha process; drop them unless they name a real file.
 */
export function opensslEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of ["OPENSSL_CONF", "RANDFILE"]) {
    const v = env[key];
    if (v !== undefined && (v === "undefined" || !fs.existsSync(v))) delete env[key];
  }
  return env;
}
