/**
 * The pack's own CI gate: every flow in flows/ and examples/ passes `otbridge lint` with no
 * errors, and every line manifest in flows/lines/ still generates its flow without drift.
 */
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { largeFlow } from "./large-flow";
import { lintFlow, loadSettings } from "../../cli/flows/lint";
import { parseFlow, serializeFlow } from "../../cli/flows/flow-file";
import { otbridge, REPO, tempDir } from "./cli-run";

describe("flows/ and examples/ in this repo", () => {
  it("pass otbridge lint with no errors", () => {
    const dirs = ["flows", "examples"].filter((d) => fs.existsSync(path.join(REPO, d)));
    assert.ok(dirs.length > 0);
    const r = otbridge(["lint", "--quiet", ...dirs]);
    assert.equal(r.status, 0, `otbridge lint ${dirs.join(" ")} found errors:\n${r.stdout}${r.stderr}`);
  });

  it("regenerate from flows/lines/*.json without drift (manifests whose template exists)", () => {
    const dir = path.join(REPO, "flows", "lines");
    const manifests = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
    const ready = manifests.filter((f) => {
      const m = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as { template?: string };
      return fs.existsSync(path.join(REPO, m.template ?? "flows/single-line-pilot.json"));
    });
    if (ready.length < manifests.length) console.log(`      (${manifests.length - ready.length} manifest(s) wait for their template, e.g. flows/single-line-pilot.json)`);
    for (const f of ready) {
      const manifest = path.join("flows", "lines", f);
      const out = (JSON.parse(fs.readFileSync(path.join(REPO, manifest), "utf8")) as { out?: string }).out;
      // Not generated yet: the manifest must at least still fit its template.
      const r = out && fs.existsSync(path.join(REPO, out)) ? otbridge(["clone", "--check", "--manifest", manifest]) : otbridge(["clone", "--manifest", manifest, "--out", "-"]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
  });
});

describe("lint speed (measured, not asserted)", () => {
  it("lints a ~200-node flow cleanly and reports the time", () => {
    const nodes = largeFlow(11);
    const t = tempDir();
    try {
      const file = path.join(t.dir, "big.json");
      fs.writeFileSync(file, serializeFlow(nodes));
      // The models sit beside the fixture, not beside this temporary copy.
      const settings = { ...loadSettings(REPO), fileRoots: [path.join("test", "fixtures", "flows")] };
      const times: number[] = [];
      for (let run = 0; run < 3; run++) {
        const started = process.hrtime.bigint();
        const findings = lintFlow(parseFlow(fs.readFileSync(file, "utf8"), file), settings);
        times.push(Number(process.hrtime.bigint() - started) / 1e6);
        assert.deepEqual(findings, []);
      }
      console.log(`      lint of ${nodes.length} nodes in-process: ${times.map((t) => `${t.toFixed(1)} ms`).join(", ")} (first run loads the editor definitions)`);
    } finally {
      t.cleanup();
    }
  });
});
