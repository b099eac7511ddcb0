/** Starts faulty-server-main in a child process and talks to it over stdin/stdout. */
import { spawn, type ChildProcess } from "child_process";
import * as path from "path";
import * as readline from "readline";
import { freePort } from "../helpers/peers";
import type { FaultyServerConfig } from "./faulty-server-main";

export interface FaultyServerStats {
  requests: Record<string, number>;
  /** Arrival time (ms) of every Republish request. */
  republishAt: number[];
  subscriptionIds: number[];
  /** The counter's tick when each subscription was created (its initial values carry it). */
  subscriptionTicks: number[];
  /** Sessions and subscriptions open on the server now. */
  sessions: number;
  subscriptions: number;
}

export interface FaultyServer {
  endpointUrl: string;
  port: number;
  /** Stops the OPC UA server and starts it again on the same port; resolves once it listens. */
  restart(): Promise<void>;
  stats(): Promise<FaultyServerStats>;
  /** Stop (false) or resume (true) answering Publish requests: a silent stall behind a live link. */
  publish(on: boolean): Promise<void>;
  close(): Promise<void>;
}

const STARTUP_MS = 60_000; // generous: two CPU hogs may run beside the tests

export async function startFaultyServer(config: Omit<FaultyServerConfig, "port">): Promise<FaultyServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [path.join(__dirname, "faulty-server-main.js"), JSON.stringify({ ...config, port })], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines: string[] = [];
  const waiters: Array<{ prefix: string; resolve(line: string): void }> = [];
  readline.createInterface({ input: child.stdout! }).on("line", (line) => {
    const i = waiters.findIndex((w) => line.startsWith(w.prefix) || line.startsWith("FAILED"));
    if (i >= 0) waiters.splice(i, 1)[0].resolve(line);
    else lines.push(line);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const next = (prefix: string, what: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const queued = lines.findIndex((l) => l.startsWith(prefix));
      if (queued >= 0) return resolve(lines.splice(queued, 1)[0]);
      const onExit = (code: number | null): void => reject(new Error(`faulty server exited (${code}) before ${what}`));
      const timer = setTimeout(() => reject(new Error(`faulty server: no ${what} within ${STARTUP_MS} ms`)), STARTUP_MS);
      child.once("exit", onExit);
      waiters.push({
        prefix,
        resolve: (l) => {
          clearTimeout(timer);
          child.off("exit", onExit);
          resolve(l);
        },
      });
    });
  await next("READY", "READY");
  const command = async (cmd: string, answer: string): Promise<string> => {
    child.stdin!.write(`${cmd}\n`);
    const line = await next(answer, cmd);
    if (line.startsWith("FAILED")) throw new Error(`faulty server: ${line}`);
    return line;
  };
  return {
    endpointUrl: `opc.tcp://127.0.0.1:${port}`,
    port,
    restart: async () => void (await command("restart", "RESTARTED")),
    publish: async (on) => void (await command(`publish ${on ? "on" : "off"}`, "PUBLISH")),
    stats: async () => JSON.parse((await command("stats", "STATS")).slice(6)) as FaultyServerStats,
    close: async () => {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The most requests that arrived within any `windowMs`. */
export function peakRate(times: number[], windowMs = 1_000): number {
  let peak = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i] - times[j] >= windowMs) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}
