/**
 * A node's KPI state across restarts, as one small JSON file under Node-RED's user directory
 * (<userDir>/otbridge/<kind>/<node id>.json), written atomically (temp file + rename) so a crash
 * mid-write leaves the previous state. Synchronous on purpose: the file is small and written at
 * period ends and on close, when it must land before Node-RED stops.
 */
import * as fs from "fs";
import * as path from "path";

export function stateFilePath(userDir: string, kind: string, nodeId: string): string {
  return path.join(userDir, "otbridge", kind, `${nodeId.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`);
}

/** The saved state, or null when there is none; a corrupt file throws (the caller reports it). */
export function loadState<T>(file: string): T | null {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  return JSON.parse(text) as T;
}

export function saveState(file: string, state: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state) + "\n", "utf8");
  fs.renameSync(tmp, file);
}

/** Reads a JSON file named in a node's config: absolute, or relative to the user directory. */
export function readJsonFile(file: string, userDir: string | undefined, what: string): unknown {
  const full = path.isAbsolute(file) ? file : path.resolve(userDir ?? process.cwd(), file);
  let text: string;
  try {
    text = fs.readFileSync(full, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${what} ${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} ${full} is not valid JSON: ${(err as Error).message}`);
  }
}
