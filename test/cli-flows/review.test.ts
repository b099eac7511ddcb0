/** `otbridge review`: each kind of change as the sentence a reviewer reads, zones first, git and two-file modes. */
import * as assert from "node:assert/strict";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { diffFlows } from "../../cli/flows/flow-diff";
import { parseFlow, readFlow, serializeFlow, type FlowNode } from "../../cli/flows/flow-file";
import { reviewMarkdown, reviewSentences } from "../../cli/flows/sentences";
import { fixture, otbridge, tempDir } from "./cli-run";

function edited(edit: (nodes: FlowNode[]) => void): ReturnType<typeof parseFlow> {
  const nodes = structuredClone(readFlow(fixture("pilot.json")).nodes);
  edit(nodes);
  return parseFlow(JSON.stringify(nodes), "after.json");
}

function named(nodes: FlowNode[], name: string): FlowNode {
  return nodes.find((n) => n.name === name)!;
}

describe("otbridge review", () => {
  const before = readFlow(fixture("pilot.json"));

  it("says a threshold change in one sentence with the old and new value", () => {
    const after = edited((nodes) => {
      (named(nodes, "pump rules").rules as Array<{ range: Record<string, number> }>)[0].range.badAbove = 8;
    });
    const s = reviewSentences(diffFlows(before, after));
    assert.deepEqual(s.config, ["otb-validate 'pump rules': tag pump1.motor.current range badAbove 80 -> 8"]);
    assert.deepEqual([s.zones, s.addedRemoved, s.wiring, s.layout], [[], [], [], []]);
  });

  it("names added and removed nodes by type and name, and says how outputs were rewired", () => {
    const after = edited((nodes) => {
      const tab = nodes[0].id;
      nodes.splice(nodes.indexOf(named(nodes, "errors")), 1);
      named(nodes, "all errors").wires = [[]];
      nodes.push({ id: "newdebug00000001", type: "debug", z: tab, name: "quarantine log", x: 700, y: 300, wires: [] });
      named(nodes, "pump rules").wires = [["c0ntext000000001"], ["newdebug00000001"], []];
    });
    const s = reviewSentences(diffFlows(before, after));
    assert.deepEqual(s.addedRemoved, ["Added debug 'quarantine log' on flow 'Line 1 pilot'.", "Removed debug 'errors' on flow 'Line 1 pilot'."]);
    assert.deepEqual(s.wiring, [
      "otb-validate 'pump rules' output 2 now goes to debug 'quarantine log' (was debug 'quarantine').",
      "catch 'all errors' output 1 now goes to nothing (was debug 'errors').",
    ]);
  });

  it("puts zone and conduit changes first, and never prints a secret", () => {
    const after = edited((nodes) => {
      named(nodes, "enterprise analytics").targetZone = "L5";
      named(nodes, "site DMZ").password = "${DMZ_PASSWORD_NEW}";
      named(nodes, "site DMZ").broker = "mqtts://svc:hunter2@dmz-broker.plant1.example:8883";
      named(nodes, "signals to DMZ").conduit = "c0nd000000000002";
      (named(nodes, "pump rules").rules as Array<{ range: Record<string, number> }>)[0].range.badAbove = 85;
    });
    const diff = diffFlows(before, after);
    const s = reviewSentences(diff);
    assert.deepEqual(s.zones, [
      "otb-conduit 'site DMZ': broker changed (value not shown)",
      "otb-conduit 'site DMZ': password changed (value not shown)",
      "otb-conduit 'enterprise analytics': targetZone L4 -> L5",
      "otb-publish 'signals to DMZ': conduit otb-conduit 'site DMZ' -> otb-conduit 'enterprise analytics'",
    ]);
    const md = reviewMarkdown("flows/x.json", diff);
    assert.ok(md.indexOf("Zones and conduits") < md.indexOf("Configuration"), md);
    assert.ok(!md.includes("DMZ_PASSWORD_NEW"));
    assert.ok(!md.includes("hunter2"));
  });

  it("summarises layout-only moves in one line and ignores re-imported ids", () => {
    const moved = edited((nodes) => {
      for (const n of nodes) if (typeof n.x === "number") n.x += 20;
    });
    const s = reviewSentences(diffFlows(before, moved));
    assert.equal(s.layout.length, 1);
    assert.match(s.layout[0], /^\d+ nodes moved or resized in the editor \(layout only, no change in behaviour\)\.$/);
    assert.deepEqual([s.zones, s.addedRemoved, s.config, s.wiring], [[], [], [], []]);

    // The same flow with every id replaced (as an editor re-import does) reads as one line.
    const map = new Map(before.nodes.map((n, i) => [n.id, `re${String(i).padStart(14, "0")}`]));
    const text = JSON.stringify(before.nodes).replace(/"([0-9a-z]{16})"/g, (m, id: string) => (map.has(id) ? `"${map.get(id)}"` : m));
    const again = reviewSentences(diffFlows(before, parseFlow(text, "reimported.json")));
    assert.deepEqual(again.config, [`${before.nodes.length} nodes have new ids (re-imported or cloned); they are matched by type and name.`]);
    assert.deepEqual([again.zones, again.addedRemoved, again.wiring, again.layout], [[], [], [], []]);
  });

  it("pairs a config node that was renamed and re-imported, and keeps references to it unchanged", () => {
    const after = edited((nodes) => {
      const line = nodes.find((n) => n.type === "otb-line")!;
      const old = line.id;
      line.id = "renamedline00001";
      line.name = "line one";
      for (const n of nodes) if (n.line === old) n.line = line.id;
    });
    const s = reviewSentences(diffFlows(before, after));
    assert.deepEqual(s.config, ["otb-line 'line one' has a new id renamedline00001 (was 11ne000000000001); matched by type and name.", "otb-line 'line one': name line1 -> \"line one\""]);
    assert.deepEqual([s.zones, s.addedRemoved, s.wiring], [[], [], []]);
  });

  it("says 'No changes.' for identical flows", () => {
    assert.match(reviewMarkdown("f.json", diffFlows(before, before)), /No changes\./);
  });

  it("compares with git HEAD by default, with --base REV, and two files with --old", function () {
    const t = tempDir();
    try {
      const git = (...args: string[]): string => execFileSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd: t.dir, encoding: "utf8" });
      git("init", "-q");
      const flow = path.join(t.dir, "line.json");
      fs.writeFileSync(flow, serializeFlow(before.nodes));
      git("add", "line.json");
      git("commit", "-q", "-m", "pilot");
      const after = edited((nodes) => {
        (named(nodes, "pump rules").rules as Array<{ range: Record<string, number> }>)[0].range.badAbove = 8;
      });
      fs.writeFileSync(flow, serializeFlow(after.nodes));

      const r = otbridge(["review", "line.json"], t.dir);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /### line\.json \(HEAD -> working tree\)/);
      assert.match(r.stdout, /^- otb-validate 'pump rules': tag pump1\.motor\.current range badAbove 80 -> 8$/m);

      git("commit", "-q", "-am", "tighten");
      assert.match(otbridge(["review", "--base", "HEAD~1", "line.json"], t.dir).stdout, /badAbove 80 -> 8/);
      assert.match(otbridge(["review", "line.json"], t.dir).stdout, /No changes\./);
      assert.equal(otbridge(["review", "--base", "nope", "line.json"], t.dir).status, 2);

      fs.writeFileSync(path.join(t.dir, "new.json"), serializeFlow(before.nodes.slice(0, 3)));
      assert.match(otbridge(["review", "new.json"], t.dir).stdout, /new since HEAD[\s\S]*Added otb-line 'line1' \(config node\)/);

      const two = otbridge(["review", "--old", fixture("pilot.json"), "line.json"], t.dir);
      assert.equal(two.status, 0);
      assert.match(two.stdout, /compared with .*pilot\.json/);
      assert.match(two.stdout, /badAbove 80 -> 8/);
    } finally {
      t.cleanup();
    }
  });

  it("exits 2 with one clear line on a missing or malformed file", () => {
    const missing = otbridge(["review", "--old", fixture("pilot.json"), "nope.json"]);
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr.trim(), "otbridge: nope.json: file not found");
    const bad = otbridge(["review", "--old", fixture("malformed.json"), fixture("pilot.json")]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /malformed\.json: not valid JSON/);
    assert.match(otbridge(["review", "--help"]).stdout, /Usage: otbridge review/);
  });
});
