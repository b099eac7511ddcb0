/**
 * A new user's install, scripted: `npm pack` of the built repo, a fresh Node-RED user folder with
 * its own package.json and no .npmrc, `npm install <tarball>` with no flags, and Node-RED (the
 * repo's own dev dependency) started on that folder. npm's variables are scrubbed from every
 * child: under `npm test` npm injects npm_config_* (the repo's .npmrc included), which a user's
 * shell does not have. Every Node.js process of the install may reach only the registry
 * (registry-only.ts).
 */
import { execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT, stopChild } from "../../cli/node-red-runner";

export const PACK_NAME: string = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).name;

/** process.env without npm's injected variables. */
export function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== "INIT_CWD") env[k] = v;
  return { ...env, ...extra };
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** The registry's host as npm is configured on this machine (user and global npmrc, not the repo's). */
export async function registryHost(): Promise<string> {
  const r = await run("npm", ["config", "get", "registry"], { cwd: os.tmpdir(), env: userEnv(), timeoutMs: 60_000 });
  return new URL(r.stdout.trim() || "https://registry.npmjs.org/").hostname;
}

/** Environment for npm and Node-RED processes: no npm_* variables, DNS limited to the registry. */
export function sandboxEnv(allowedHost: string): NodeJS.ProcessEnv {
  const preload = path.join(__dirname, "registry-only.js");
  const nodeOptions = [process.env.NODE_OPTIONS ?? "", `--require ${JSON.stringify(preload)}`].join(" ").trim();
  return userEnv({ NODE_OPTIONS: nodeOptions, OTB_TEST_ALLOWED_HOSTS: allowedHost });
}

/** `npm pack` of the repo as built (dist/ is what the suite runs), into `dir`; the tarball's path. */
export async function packRepo(dir: string): Promise<string> {
  // --ignore-scripts: no rebuild while mocha runs from dist/; the tarball holds dist/ as built.
  const r = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: REPO_ROOT, env: userEnv(), timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`npm pack failed (${r.code}):\n${r.stderr.slice(-2000)}`);
  const [info] = JSON.parse(r.stdout) as Array<{ filename: string }>;
  return path.join(dir, info.filename);
}

/** A Node-RED user folder as Node-RED creates it: a package.json and nothing else. */
export function freshUserDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-install-"));
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "node-red-project", description: "A Node-RED Project", version: "0.0.1", private: true }, null, 4) + "\n");
  return dir;
}

/** Apparent size of a folder's files in bytes (symlinks not followed). */
export function folderBytes(dir: string): number {
  let bytes = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) bytes += folderBytes(p);
    else if (e.isFile()) bytes += fs.statSync(p).size;
  }
  return bytes;
}

export interface InstalledRed {
  url: string;
  log: string[];
  get<T = unknown>(route: string): Promise<{ status: number; body: T }>;
  post<T = unknown>(route: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/**
 * Node-RED from the repo's dev dependency on `userDir`, as a user's `node-red -u <userDir>`
 * would run it: it finds the pack in <userDir>/node_modules, nothing is linked from the repo.
 */
export function startInstalledRed(userDir: string, env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<InstalledRed> {
  const settings = path.join(userDir, "settings.js");
  fs.writeFileSync(settings, `module.exports = {
  uiHost: "127.0.0.1",
  flowFile: "flows.json",
  diagnostics: { enabled: false },
  telemetry: { enabled: false },
  editorTheme: { tours: false },
  logging: { console: { level: "info", metrics: false, audit: false } },
};
`);
  if (!fs.existsSync(path.join(userDir, "flows.json"))) fs.writeFileSync(path.join(userDir, "flows.json"), "[]\n");
  const child = spawn(process.execPath, [require.resolve("node-red/red.js"), "--settings", settings, "--userDir", userDir, "--port", "0"], {
    cwd: userDir, env, stdio: ["ignore", "pipe", "pipe"],
  });
  const log: string[] = [];
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`Node-RED did not listen within ${timeoutMs} ms:\n${log.slice(-30).join("\n")}`)), timeoutMs);
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(err);
    };
    const onData = (stream: NodeJS.ReadableStream): void => {
      let buf = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          log.push(line);
          const m = /Server now running at (http:\/\/[^/\s]+)/.exec(line);
          if (m && !settled) {
            settled = true;
            clearTimeout(timer);
            resolve(session(m[1]));
          }
        }
      });
    };
    onData(child.stdout);
    onData(child.stderr);
    child.on("exit", (code, signal) => fail(new Error(`Node-RED exited (${code ?? signal}) before listening:\n${log.slice(-30).join("\n")}`)));
  });

  function session(url: string): InstalledRed {
    const call = async <T>(method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> => {
      const res = await fetch(`${url}${route}`, {
        method,
        headers: { Accept: "application/json", ...(body !== undefined ? { "Content-Type": "application/json" } : {}), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed as T };
    };
    return {
      url, log,
      get: (route) => call("GET", route),
      post: (route, body, headers) => call("POST", route, body, headers),
      stop: () => stopChild(child),
    };
  }
}

/** Polls `probe` until it returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
