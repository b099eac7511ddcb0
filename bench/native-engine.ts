/**
 * onnxruntime-node for the native-vs-wasm comparison, installed into the git-ignored
 * `.otb-cache/ort-node` and never into the repo's node_modules (its postinstall would fetch CUDA
 * binaries from api.nuget.org). A developer tool may pass `--onnxruntime-node-install=skip`; a
 * user's install of the pack never needs it (engine.ts).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../cli/node-red-runner";

export const NATIVE_CACHE = path.join(REPO_ROOT, ".otb-cache", "ort-node");
const MODULE_DIR = path.join(NATIVE_CACHE, "node_modules", "onnxruntime-node");

/** The onnxruntime-node module folder, installing it first if needed; null (and why) when it cannot be had. */
export function nativeEngineDir(log: (line: string) => void = console.log): { dir: string | null; why?: string } {
  if (fs.existsSync(path.join(MODULE_DIR, "package.json"))) return { dir: MODULE_DIR };
  fs.mkdirSync(NATIVE_CACHE, { recursive: true });
  fs.writeFileSync(path.join(NATIVE_CACHE, "package.json"), JSON.stringify({ name: "otb-ort-node-cache", private: true }) + "\n");
  log(`bench: installing onnxruntime-node into ${path.relative(REPO_ROOT, NATIVE_CACHE)} (CUDA download skipped)`);
  // Scrub npm's own variables: under `npm run`, npm_config_* would leak the repo's settings.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  try {
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-save", "--onnxruntime-node-install=skip", "onnxruntime-node@^1.22.0"], {
      cwd: NATIVE_CACHE, env, stdio: ["ignore", "pipe", "pipe"], timeout: 600_000,
    });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? "").trim().split("\n").slice(-3).join(" | ");
    return { dir: null, why: `npm install onnxruntime-node failed: ${stderr || (err as Error).message}` };
  }
  return fs.existsSync(MODULE_DIR) ? { dir: MODULE_DIR } : { dir: null, why: "onnxruntime-node not found after install" };
}

/** Size on disk of a folder, in MB (apparent size of every file, symlinks not followed). */
export function folderMb(dir: string): number {
  let bytes = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) bytes += fs.statSync(p).size;
    }
  };
  walk(dir);
  return bytes / 1e6;
}
