/**
 * Starts Node-RED 4.x (the repo's own dependency, never a global install) with this pack
 * loaded, in a child process, on loopback. Used by `otbridge start` (npm start), the packaging
 * and pilot tests, and the benchmarks, so that all of them load the pack exactly as a user's
 * Node-RED does: through the registry, from a user folder whose node_modules links the pack.
 */
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const PACKAGE_NAME = "node-red-contrib-otbridge";

export interface NodeRedOptions {
  userDir: string;
  /** 0 picks a free port; the real one is read from Node-RED's start-up line. */
  port: number;
  host?: string;
  /** Flow file copied into the user folder when it has none (or always, with resetFlows). */
  flowTemplate?: string;
  resetFlows?: boolean;
  /** Extra environment for the flows (${VAR} substitution). */
  env?: NodeJS.ProcessEnv;
  /** Where Node-RED's own log lines go; default: this process's stdout. */
  log?: (line: string) => void;
  /** Start the flows only once this file exists (cli/flows-gate.ts): Node-RED starts beside the devices it reads. */
  holdFlowsUntil?: { file: string; timeoutMs: number };
  /** Node.js/V8 flags for the Node-RED process (before red.js), e.g. LINE_NODE_ARGS; default none. */
  nodeArgs?: readonly string[];
}

export interface RunningNodeRed {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/**
 * Node.js/V8 flags of a line's own Node-RED process (`otbridge start`, the pilot, the lines
 * benchmark): the young generation capped at two semi-spaces of 4 MB (V8's default lets each grow
 * to 16 MB). A line allocates little at a steady rate, but V8 grew the young generation to 32 MB
 * and kept it. Measured with `npm run bench lines` (README "How many lines per PC"; 2 lines as
 * processes, 5 December, quiet, PSS of both): Node's default 392 and 393 MB, semi-space 8 MB
 * 339 MB, 4 MB 326 and 328 MB, 2 MB 363 MB, 1 MB 386 MB (too small a young generation promotes
 * short-lived objects, and the old generation grows instead); CPU 10.5-12.6 % of one core either
 * way. OTB_NODE_ARGS replaces these flags (`OTB_NODE_ARGS=` for none).
 */
export const LINE_NODE_ARGS: readonly string[] = ["--max-semi-space-size=4"];

/**
 * glibc's malloc arenas for a line's Node-RED process when the environment names none: one, instead
 * of up to 8 per core. Every thread that allocates while another holds an arena gets one of its own
 * (V8's compiler and GC threads, libuv's pool), and each keeps what was freed in it; small
 * allocations still go through each thread's own cache (tcache) without the lock. `npm run bench
 * lines`, 5 December, quiet: 2 lines as processes 431 MB PSS with glibc's default, 404 MB with two
 * arenas, 393 MB with one; 10 lines with the young generation capped (LINE_NODE_ARGS) 1,564 MB with
 * two, 1,525 MB with one, CPU 55-63 % of one core either way. MALLOC_ARENA_MAX in the environment
 * wins (glibc reads it when the process starts).
 */
export const LINE_MALLOC_ARENAS = "1";

/** The environment of a line's Node-RED process: this one's, LINE_MALLOC_ARENAS unless set, then the extras. */
export function lineEnv(extra: NodeJS.ProcessEnv = {}, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { MALLOC_ARENA_MAX: LINE_MALLOC_ARENAS, ...base, ...extra };
}

/** LINE_NODE_ARGS, or the flags in OTB_NODE_ARGS (space-separated) when it is set. */
export function lineNodeArgs(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  const given = env.OTB_NODE_ARGS;
  return given === undefined ? LINE_NODE_ARGS : given.split(/\s+/).filter(Boolean);
}

/** Creates the user folder: settings, a link to this pack, and the flow file. */
export function prepareUserDir(opts: NodeRedOptions): void {
  const modules = path.join(opts.userDir, "node_modules");
  fs.mkdirSync(modules, { recursive: true });
  const link = path.join(modules, PACKAGE_NAME);
  let current: string | null = null;
  try {
    current = fs.readlinkSync(link);
  } catch {
    current = null;
  }
  if (current !== REPO_ROOT) {
    fs.rmSync(link, { recursive: true, force: true });
    fs.symlinkSync(REPO_ROOT, link, "dir");
  }
  const settings = path.join(opts.userDir, "settings.js");
  fs.writeFileSync(settings, settingsSource(opts));
  const flows = path.join(opts.userDir, "flows.json");
  if (opts.flowTemplate && (opts.resetFlows || !fs.existsSync(flows))) {
    fs.copyFileSync(opts.flowTemplate, flows);
  } else if (!fs.existsSync(flows)) {
    fs.writeFileSync(flows, "[]\n");
  }
}

/**
 * Node-RED packages that are only dev dependencies of this repo (bench/peers.bench.ts measures the
 * pack against them). Node-RED also scans the node_modules folders above its own install, i.e.
 * the repo's, so without this every Node-RED started from a checkout would load them too.
 */
const DEV_ONLY_NODE_PACKAGES = ["node-red-contrib-modbus", "node-red-contrib-opcua"];

function settingsSource(opts: NodeRedOptions): string {
  // A user folder that installs one of them itself still loads it.
  const excludes = DEV_ONLY_NODE_PACKAGES.filter((n) => !fs.existsSync(path.join(opts.userDir, "node_modules", n)));
  // Generated on every start so that a stale copy never diverges from the pack's defaults.
  return `// Generated by otbridge start; edits are overwritten. Configure with environment variables.
module.exports = {
  uiHost: ${JSON.stringify(opts.host ?? "127.0.0.1")},
  flowFile: "flows.json",
  flowFilePretty: true,
  // Credentials are encrypted with OTB_CREDENTIAL_SECRET; without it Node-RED keeps its own key
  // in .config.runtime.json inside this (git-ignored) folder.
  credentialSecret: process.env.OTB_CREDENTIAL_SECRET || undefined,
  adminAuth: process.env.OTB_ADMIN_PASSWORD_HASH ? {
    type: "credentials",
    users: [{ username: process.env.OTB_ADMIN_USER || "admin", password: process.env.OTB_ADMIN_PASSWORD_HASH, permissions: "*" }]
  } : undefined,
  diagnostics: { enabled: false },
  telemetry: { enabled: false },
  externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
  editorTheme: { projects: { enabled: false }, palette: { catalogues: [] }, tours: false },
  logging: { console: { level: process.env.OTB_LOG_LEVEL || "info", metrics: false, audit: false } },
  functionExternalModules: false,
  exportGlobalContextKeys: false,
  nodesExcludes: ${JSON.stringify(excludes)},${gateSetting(opts)}
};
`;
}

/** The storage module that holds the flow start (cli/flows-gate.ts), when asked for. */
function gateSetting(opts: NodeRedOptions): string {
  const gate = opts.holdFlowsUntil;
  if (!gate) return "";
  const mod = path.join(__dirname, "flows-gate.js");
  return `\n  storageModule: require(${JSON.stringify(mod)}).gatedStorage(${JSON.stringify(gate.file)}, ${Math.round(gate.timeoutMs)}),`;
}

/** Starts Node-RED and resolves once it listens (or rejects with its last log lines). */
export function startNodeRed(opts: NodeRedOptions): Promise<RunningNodeRed> {
  prepareUserDir(opts);
  const redJs = require.resolve("node-red/red.js");
  const child = spawn(
    process.execPath,
    [...(opts.nodeArgs ?? []), redJs, "--settings", path.join(opts.userDir, "settings.js"), "--userDir", opts.userDir, "--port", String(opts.port)],
    { env: lineEnv(opts.env), stdio: ["ignore", "pipe", "pipe"] },
  );
  const log = opts.log ?? ((line: string) => process.stdout.write(line + "\n"));
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    let settled = false;
    const onLine = (line: string): void => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      log(line);
      const url = /Server now running at (http:\/\/[^/\s]+)/.exec(line)?.[1];
      if (url && !settled) {
        settled = true;
        resolve({ child, url, stop: () => stopChild(child) });
      }
    };
    lineReader(child.stdout!, onLine);
    lineReader(child.stderr!, onLine);
    child.on("exit", (code, signal) => {
      if (!settled) {
        settled = true;
        reject(new Error(`Node-RED exited (${code ?? signal}) before listening:\n${tail.join("\n")}`));
      }
    });
  });
}

function lineReader(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

/** SIGINT first (Node-RED closes its nodes), SIGKILL after 10 s. */
export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGINT");
  });
}
