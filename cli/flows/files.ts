/** Turns command-line paths into flow files: folders are searched for *.json flows. */
import * as fs from "fs";
import * as path from "path";

export interface FileArg {
  file: string;
  /** True when found by searching a folder (non-flow JSON there, e.g. tag catalogs, is skipped). */
  discovered: boolean;
}

export class MissingPathError extends Error {}

export function expandPaths(args: readonly string[]): FileArg[] {
  const out: FileArg[] = [];
  for (const arg of args) {
    let st: fs.Stats;
    try {
      st = fs.statSync(arg);
    } catch {
      throw new MissingPathError(`${arg}: file not found`);
    }
    if (st.isDirectory()) for (const file of walk(arg)) out.push({ file, discovered: true });
    else out.push({ file: arg, discovered: false });
  }
  return out;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(p));
    else if (entry.name.endsWith(".json")) out.push(p);
  }
  return out;
}

/**
 * Whether a discovered JSON file is a flow at all: an array (or {flows: [...]}). Malformed JSON
 * counts as a flow so that the broken file is reported rather than skipped.
 */
export function looksLikeFlow(file: string): boolean {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return true;
  }
  // Register maps and tag lists are arrays too, but their rows have no node id.
  if (Array.isArray(data)) return data.every((n) => typeof n === "object" && n !== null && typeof n.id === "string" && typeof n.type === "string");
  return typeof data === "object" && data !== null && Array.isArray((data as { flows?: unknown }).flows);
}
