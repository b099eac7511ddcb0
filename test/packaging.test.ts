/**
 * The build puts everything where Node-RED's registry looks, and the registry itself (not the
 * test helper, which bypasses it) loads every node of the pack without errors.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../cli/node-red-runner";
import { startRuntime, type AdminSession } from "./helpers/admin";

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
const nodes: Record<string, string> = pkg["node-red"].nodes;

/** Icons an editor definition refers to (icon: "otb-x.svg"). */
function iconsUsed(html: string): string[] {
  return [...html.matchAll(/icon:\s*"([^"]+\.(?:svg|png))"/g)].map((m) => m[1]).filter((i) => !i.includes("/"));
}

describe("packaging", () => {
  it("declares a CommonJS node set per type, each named after its folder", () => {
    assert.ok(Object.keys(nodes).length >= 1);
    assert.equal(pkg["node-red"].version, ">=4.0.0");
    assert.equal(pkg.license, "Apache-2.0");
    for (const [type, js] of Object.entries(nodes)) {
      assert.match(type, /^otb-[a-z0-9-]+$/);
      assert.equal(js, `dist/nodes/${type}/${type}.js`);
    }
  });

  it("carries repository, bugs and homepage (flow-library scorecard P03)", () => {
    assert.match(pkg.repository?.url ?? "", /^git\+https:\/\/\S+\.git$/);
    assert.match(pkg.bugs?.url ?? "", /^https:\/\//);
    assert.match(pkg.homepage ?? "", /^https:\/\//);
  });

  it("installs from the npm registry alone: no runtime dependency runs an install script that is not reviewed here", () => {
    // Each of these was read: none fetches anything beyond the registry. A new one must be read
    // too (issue 13: onnxruntime-node's postinstall fetched CUDA binaries from api.nuget.org).
    const reviewed: Record<string, string> = {
      "node_modules/protobufjs": "postinstall only warns when a dependent asks for an incompatible version range; no network",
      "node_modules/@serialport/bindings-cpp": "optional; node-gyp-build uses the prebuilt binaries inside the package",
    };
    const lock = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }>;
    };
    const scripted = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript && !p.dev).map(([k]) => k);
    assert.deepEqual(scripted.filter((k) => !(k in reviewed)), [], "runtime dependencies with an unreviewed install script");
    assert.ok(!("onnxruntime-node" in (pkg.dependencies ?? {})) && !("onnxruntime-node" in (pkg.optionalDependencies ?? {})), "onnxruntime-node is no dependency");
    assert.equal(pkg.peerDependenciesMeta?.["onnxruntime-node"]?.optional, true, "onnxruntime-node is an optional peer");
    assert.ok(!fs.existsSync(path.join(REPO_ROOT, ".npmrc")) || !/onnxruntime/.test(fs.readFileSync(path.join(REPO_ROOT, ".npmrc"), "utf8")), ".npmrc hides nothing");
  });

  for (const [type, js] of Object.entries(nodes)) {
    it(`${type}: .js, .html, en-US catalog and help, and its icons sit beside each other in dist`, () => {
      const dir = path.join(REPO_ROOT, path.dirname(js));
      const html = fs.readFileSync(path.join(dir, `${type}.html`), "utf8");
      assert.ok(fs.existsSync(path.join(REPO_ROOT, js)), "compiled .js");
      assert.match(html, new RegExp(`registerType\\(\\s*["']${type}["']`), "the .html registers the type");
      assert.match(html, new RegExp(`data-template-name="${type}"`), "the .html has an edit form");
      const help = fs.readFileSync(path.join(dir, "locales", "en-US", `${type}.html`), "utf8");
      assert.match(help, new RegExp(`data-help-name="${type}"`), "help text");
      assert.ok(fs.existsSync(path.join(dir, "locales", "en-US", `${type}.json`)), "message catalog");
      for (const icon of iconsUsed(html)) assert.ok(fs.existsSync(path.join(dir, "icons", icon)), `icon ${icon}`);
      assert.equal(require(path.join(REPO_ROOT, js)).length, 1, "export = function (RED)");
    });
  }

  describe("in a real Node-RED runtime", function () {
    this.timeout(60_000);
    let red: AdminSession;
    before(async () => {
      red = await startRuntime();
    });
    after(() => red?.stop());

    it("the registry loads every node of the pack, with no errors", async () => {
      const { status, body } = await red.get<Array<{ id: string; module: string; types: string[]; err?: string; enabled: boolean }>>("/nodes");
      assert.equal(status, 200);
      const ours = body.filter((s) => s.module === pkg.name);
      assert.deepEqual(ours.map((s) => s.types).flat().sort(), Object.keys(nodes).sort());
      for (const set of ours) {
        assert.equal(set.err, undefined, `${set.id}: ${set.err}`);
        assert.equal(set.enabled, true);
      }
      assert.ok(!red.log.some((l) => /\[error\]/.test(l) && l.includes("otb")), red.log.filter((l) => l.includes("error")).join("\n"));
    });

    it("serves each node's editor, catalog and icons to the browser", async () => {
      for (const [type, js] of Object.entries(nodes)) {
        const catalog = await red.get<Record<string, unknown>>(`/locales/${pkg.name}/${type}?lng=en-US`);
        assert.equal(catalog.status, 200);
        assert.ok(catalog.body && typeof catalog.body === "object" && type in catalog.body, `${type} catalog`);
        const html = fs.readFileSync(path.join(REPO_ROOT, path.dirname(js), `${type}.html`), "utf8");
        for (const icon of iconsUsed(html)) {
          const res = await fetch(`${red.url}/icons/${pkg.name}/${icon}`);
          assert.equal(res.status, 200, `icon ${icon}`);
        }
      }
      const editor = await fetch(`${red.url}/nodes`, { headers: { Accept: "text/html" } });
      const text = await editor.text();
      for (const type of Object.keys(nodes)) assert.ok(text.includes(`registerType("${type}"`) || text.includes(`registerType('${type}'`), `${type} in the palette`);
    });
  });
});
