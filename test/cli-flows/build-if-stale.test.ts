/**
 * `npm start` builds only when a source is newer than the last complete build's stamp
 * (scripts/build-if-stale.js), run on a scratch tree laid out like the repo.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const SCRIPT = path.resolve(__dirname, "..", "..", "..", "scripts", "build-if-stale.js");

describe("npm start: build only when sources changed", () => {
  let root: string;
  const check = (): { code: number | null; out: string } => {
    const r = spawnSync(process.execPath, [SCRIPT, "--check"], { encoding: "utf8", env: { ...process.env, OTB_BUILD_ROOT: root }, timeout: 60_000 });
    return { code: r.status, out: r.stdout.trim() };
  };
  const age = (p: string, secondsAgo: number): void => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    fs.utimesSync(path.join(root, p), t, t);
  };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "otb-stale-"));
    for (const d of ["nodes/otb-x", "cli/sim", "test", "bench", "icons", "dist", "node_modules/x"]) fs.mkdirSync(path.join(root, d), { recursive: true });
    for (const f of ["nodes/otb-x/otb-x.ts", "nodes/otb-x/otb-x.html", "cli/sim/line.ts", "test/a.test.ts", "bench/b.ts", "icons/i.svg", "package.json", "tsconfig.json"]) fs.writeFileSync(path.join(root, f), "x");
    for (const p of ["nodes/otb-x/otb-x.ts", "nodes/otb-x/otb-x.html", "nodes/otb-x", "nodes", "cli/sim/line.ts", "cli/sim", "cli", "test/a.test.ts", "test", "bench/b.ts", "bench", "icons/i.svg", "icons", "package.json", "tsconfig.json"]) age(p, 120);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("builds when there is no complete build yet", () => {
    assert.deepEqual(check(), { code: 1, out: "otbridge: build needed (no complete build yet)" });
  });

  it("skips the build when the stamp is newer than every source, and ignores node_modules and dist", () => {
    fs.writeFileSync(path.join(root, "dist", ".build-stamp"), "");
    age("dist/.build-stamp", 60);
    fs.writeFileSync(path.join(root, "node_modules", "x", "new.js"), "x");
    fs.writeFileSync(path.join(root, "dist", "new.js"), "x");
    assert.deepEqual(check(), { code: 0, out: "otbridge: build up to date" });
  });

  for (const [what, change] of [
    ["an edited node source", (r: string) => fs.writeFileSync(path.join(r, "nodes", "otb-x", "otb-x.html"), "y")],
    ["a file added under cli/", (r: string) => fs.writeFileSync(path.join(r, "cli", "sim", "new.ts"), "y")],
    ["a file removed from test/", (r: string) => fs.rmSync(path.join(r, "test", "a.test.ts"))],
    ["package.json", (r: string) => fs.writeFileSync(path.join(r, "package.json"), "y")],
  ] as Array<[string, (r: string) => void]>) {
    it(`builds after ${what}`, () => {
      fs.writeFileSync(path.join(root, "dist", ".build-stamp"), "");
      age("dist/.build-stamp", 60);
      assert.equal(check().code, 0);
      change(root);
      const r = check();
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /^otbridge: build needed \((nodes|cli|test|package\.json) changed since the last build\)$/);
    });
  }
});
