/** Runs the real otbridge command line, as a user or a pre-commit hook does, and paths to the fixtures. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The repo root (this file runs from dist/test/cli-flows). */
export const REPO = path.resolve(__dirname, "..", "..", "..");
export const FIXTURES = path.join(REPO, "test", "fixtures", "flows");
const CLI = path.join(REPO, "dist", "cli", "otbridge.js");

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function otbridge(args: string[], cwd = REPO): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 15_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = "otb-flows-"): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function readJson<T = unknown>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}
