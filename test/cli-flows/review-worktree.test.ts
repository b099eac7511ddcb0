/**
 * `otbridge review` with no files: it reviews the flows changed in the working tree, as a user
 * runs it before a commit. A real git repository with changed, staged, deleted, new, ignored and
 * non-flow .json files; only the flows are reviewed, each with the right title.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { fixture, otbridge, tempDir } from "./cli-run";

describe("otbridge review (no files: the working tree's changed flows)", () => {
  it("reviews changed, staged, deleted and new flows, and nothing else", function () {
    this.timeout(30_000);
    const t = tempDir();
    try {
      const git = (...args: string[]): string => execFileSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: t.dir, encoding: "utf8" });
      const pilot = JSON.parse(fs.readFileSync(fixture("pilot.json"), "utf8")) as Array<Record<string, unknown>>;
      const write = (f: string, v: unknown): void => {
        fs.mkdirSync(path.dirname(path.join(t.dir, f)), { recursive: true });
        fs.writeFileSync(path.join(t.dir, f), JSON.stringify(v, null, 2));
      };
      git("init", "-q");
      write("flows/line.json", pilot);
      write("flows/staged.json", pilot);
      write("flows/old.json", pilot);
      write("flows/same.json", pilot);
      write("package.json", { name: "x", version: "1.0.0" });
      write("flows/catalog/tags.json", { version: 1, tags: [] });
      fs.writeFileSync(path.join(t.dir, ".gitignore"), "ignored.json\n");
      git("add", "-A");
      git("commit", "-q", "-m", "flows");

      const renamed = (name: string): Array<Record<string, unknown>> => pilot.map((n, i) => (i === pilot.findIndex((x) => typeof x.name === "string" && x.name) ? { ...n, name } : n));
      write("flows/line.json", renamed("line renamed"));
      write("flows/staged.json", renamed("staged renamed"));
      git("add", "flows/staged.json");
      fs.rmSync(path.join(t.dir, "flows/old.json"));
      write("flows/new.json", pilot.slice(0, 3));
      write("ignored.json", pilot);
      write("package.json", { name: "x", version: "1.0.1" });
      write("flows/catalog/tags.json", { version: 2, tags: [] });

      const r = otbridge(["review"], t.dir);
      assert.equal(r.status, 0, r.stderr);
      const titles = r.stdout.split("\n").filter((l) => l.startsWith("### "));
      assert.deepEqual(titles, [
        "### flows/line.json (HEAD -> working tree)",
        "### flows/new.json (new since HEAD)",
        "### flows/old.json (deleted since HEAD)",
        "### flows/staged.json (HEAD -> working tree)",
      ]);
      assert.match(r.stdout, /"line renamed"/);
      assert.match(r.stdout, /"staged renamed"/);
      assert.match(r.stdout, /### flows\/old\.json \(deleted since HEAD\)\n[\s\S]*?Removed/);

      // From a subfolder: that folder's flows, paths relative to it.
      const sub = otbridge(["review"], path.join(t.dir, "flows"));
      assert.equal(sub.status, 0, sub.stderr);
      assert.match(sub.stdout, /^### line\.json \(HEAD -> working tree\)$/m);

      const json = JSON.parse(otbridge(["review", "--format", "json"], t.dir).stdout) as Array<{ file: string }>;
      assert.deepEqual(json.map((x) => x.file), ["flows/line.json", "flows/new.json", "flows/old.json", "flows/staged.json"]);

      git("add", "-A");
      git("commit", "-q", "-m", "edits");
      const none = otbridge(["review"], t.dir);
      assert.equal(none.status, 0);
      assert.match(none.stdout, /No flow file under .* differs from HEAD\./);
      assert.deepEqual(titlesOf(otbridge(["review", "--base", "HEAD~1"], t.dir).stdout), titles.map((l) => l.replace("HEAD", "HEAD~1")));
      assert.equal(otbridge(["review", "--base", "nope"], t.dir).status, 2);
    } finally {
      t.cleanup();
    }
  });

  it("outside a git repository: one clear line, exit 2", () => {
    const t = tempDir();
    try {
      const r = otbridge(["review"], t.dir);
      assert.equal(r.status, 2);
      assert.match(r.stderr.trim(), /^otbridge: not inside a git repository: name the flow files, or use --old OLD\.json NEW\.json$/);
    } finally {
      t.cleanup();
    }
  });
});

function titlesOf(md: string): string[] {
  return md.split("\n").filter((l) => l.startsWith("### "));
}
