/**
 * The bare `otbridge` command as a user meets it: `--version` prints the pack's version, no
 * command is a usage error (help on stderr, exit 2), `--help` is help on stdout with exit 0, and
 * an unknown command names itself.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";

const CLI = path.resolve(__dirname, "..", "..", "cli", "otbridge.js");
const PKG = require(path.resolve(__dirname, "..", "..", "..", "package.json")) as { version: string };

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 15_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("cli: otbridge itself", function () {
  this.timeout(30_000);

  it("--version prints the package version and exits 0", () => {
    const r = run(["--version"]);
    assert.strictEqual(r.code, 0);
    assert.strictEqual(r.stdout.trim(), PKG.version);
  });

  it("no command prints the help on stderr and exits 2", () => {
    const r = run([]);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /Usage: otbridge <command>/);
    assert.match(r.stderr, /simulate/);
    assert.strictEqual(r.stdout, "");
  });

  it("--help prints the help on stdout and exits 0", () => {
    const r = run(["--help"]);
    assert.strictEqual(r.code, 0);
    assert.match(r.stdout, /Usage: otbridge <command>/);
  });

  it("an unknown command is named, exit 2", () => {
    const r = run(["frobnicate"]);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });
});
