/** A real Node-RED child process with the pack loaded, and its admin HTTP API, for tests. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startNodeRed, type RunningNodeRed } from "../../cli/node-red-runner";

export interface AdminSession extends RunningNodeRed {
  userDir: string;
  log: string[];
  get<T = unknown>(route: string): Promise<{ status: number; body: T }>;
  post<T = unknown>(route: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
}

export async function startRuntime(opts: { flowTemplate?: string; env?: NodeJS.ProcessEnv } = {}): Promise<AdminSession> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-nr-"));
  const log: string[] = [];
  const red = await startNodeRed({ userDir, port: 0, flowTemplate: opts.flowTemplate, env: opts.env, log: (l) => log.push(l) });
  const call = async <T>(method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${red.url}${route}`, {
      method,
      headers: { Accept: "application/json", ...(body !== undefined ? { "Content-Type": "application/json" } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, body: parsed as T };
  };
  return {
    ...red,
    userDir,
    log,
    get: (route) => call("GET", route),
    post: (route, body, headers) => call("POST", route, body, headers),
    stop: async () => {
      await red.stop();
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}
