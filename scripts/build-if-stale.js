#!/usr/bin/env node
/**
 * `npm start` builds only when something the build reads is newer than dist/.build-stamp (written
 * by the last complete `npm run build`): an incremental tsc with nothing to compile still spends
 * 5 s of CPU (18 s on this loaded 2-core machine) loading the program before it knows. Plain
 * JavaScript, because it runs before dist/ exists. Deleted sources are not noticed (as with
 * tsc's own incremental build): `npm run build` after deleting files.
 */
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

// OTB_BUILD_ROOT: another tree (the test of this script); `--check`: say, exit 1 if stale, build nothing.
const root = path.resolve(process.env.OTB_BUILD_ROOT || path.join(__dirname, ".."));
const checkOnly = process.argv.includes("--check");
/** What tsc and build-assets read. */
const INPUTS = ["nodes", "cli", "test", "bench", "icons", "package.json", "tsconfig.json"];
const SKIP = new Set(["node_modules", "dist", ".git"]);

function newest(p) {
  let st;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs; // a file added or removed changes its folder's time
  for (const e of fs.readdirSync(p)) if (!SKIP.has(e)) m = Math.max(m, newest(path.join(p, e)));
  return m;
}

function stale() {
  let stamp;
  try {
    stamp = fs.statSync(path.join(root, "dist", ".build-stamp")).mtimeMs;
  } catch {
    return "no complete build yet";
  }
  const changed = INPUTS.find((p) => newest(path.join(root, p)) > stamp);
  return changed ? `${changed} changed since the last build` : undefined;
}

const why = stale();
if (checkOnly) {
  console.log(why ? `otbridge: build needed (${why})` : "otbridge: build up to date");
  process.exitCode = why ? 1 : 0;
} else if (why) {
  console.log(`otbridge: building (${why})`);
  const r = spawnSync(process.platform === "win32" ? "npm.cmd" : "npm", ["run", "build", "--silent"], { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
  process.exitCode = r.status ?? 1;
}
