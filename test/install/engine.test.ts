/**
 * The ONNX engine choice (nodes/otb-infer/engine.ts): onnxruntime-node when it loads, else the
 * bundled onnxruntime-web; the reasons of every failure when neither does. The chosen engine runs
 * the model in all three places otb-infer uses one: Node-RED's thread, the worker thread and the
 * model-check child. The native engine is exercised when `npm run bench infer-latency` has put it
 * in .otb-cache/ (the repo never depends on it: its postinstall needs api.nuget.org).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../../cli/node-red-runner";
import { EngineUnavailableError, candidates, loadEngineFrom, selectEngine, type Engine } from "../../nodes/otb-infer/engine";
import { loadModel, type Execution } from "../../nodes/otb-infer/model-loader";
import { FIXTURE_ONNX, KNOWN } from "../inference/models";

const NATIVE_DIR = path.join(REPO_ROOT, ".otb-cache", "ort-node", "node_modules", "onnxruntime-node");

async function scores(engine: Engine, execution: Execution): Promise<{ label: string; score: number[] }> {
  const m = await loadModel({ modelPath: FIXTURE_ONNX, threads: 1, isolate: true, checkTimeoutMs: 30_000, execution, engine });
  try {
    const out = await m.runner.run("features", Float32Array.from(KNOWN.flatMap((k) => k.input)), [KNOWN.length, 3]);
    return { label: m.engine, score: Array.from(out.score) };
  } finally {
    await m.release();
  }
}

function assertKnownScores(score: number[], what: string): void {
  KNOWN.forEach((k, i) => assert.ok(Math.abs(score[i] - k.score) < 1e-5, `${what}: score of ${k.input} is ${score[i]}, expected ${k.score}`));
}

describe("install: the ONNX engine", function () {
  this.timeout(120_000);

  it("falls back to onnxruntime-web when onnxruntime-node is not installed", () => {
    const e = selectEngine(["otb-no-such-onnxruntime-node", "onnxruntime-web"]);
    assert.equal(e.name, "onnxruntime-web");
    assert.equal(e.kind, "wasm");
    assert.match(e.label, /^onnxruntime-web \d+\.\d+\.\d+ \(wasm\)$/);
  });

  it("falls back when an installed onnxruntime-node does not load on this platform", () => {
    // An install whose native binding is missing, as when no prebuilt binary exists for the platform.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-broken-ort-"));
    try {
      const mod = path.join(dir, "node_modules", "onnxruntime-node");
      fs.mkdirSync(mod, { recursive: true });
      fs.writeFileSync(path.join(mod, "package.json"), JSON.stringify({ name: "onnxruntime-node", version: "1.30.0", main: "index.js" }));
      fs.writeFileSync(path.join(mod, "index.js"), 'module.exports = require("./bin/napi-v6/' + process.platform + "/" + process.arch + '/onnxruntime_binding.node");\n');
      assert.equal(selectEngine([mod, "onnxruntime-web"]).name, "onnxruntime-web");
      assert.throws(() => selectEngine([mod]), (err: Error) => {
        assert.ok(err instanceof EngineUnavailableError);
        assert.match(err.message, /^inference unavailable: no ONNX engine loads on /);
        assert.match(err.message, /onnxruntime_binding\.node/, "the reason names what failed");
        return true;
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says which engines were tried and why none loads", () => {
    assert.throws(() => selectEngine(["otb-no-such-a", "otb-no-such-b"]), (err: Error) => {
      assert.ok(err instanceof EngineUnavailableError);
      assert.equal(err.message, `inference unavailable: no ONNX engine loads on ${process.platform}-${process.arch}, Node ${process.versions.node} (otb-no-such-a: not installed; otb-no-such-b: not installed)`);
      return true;
    });
  });

  it("OTB_INFER_ENGINE pins one engine; unset, native comes first", () => {
    assert.deepEqual(candidates({}), ["onnxruntime-node", "onnxruntime-web"]);
    assert.deepEqual(candidates({ OTB_INFER_ENGINE: " onnxruntime-web " }), ["onnxruntime-web"]);
  });

  for (const execution of ["main", "worker"] as const) {
    it(`onnxruntime-web: the model passes the check child (once per process) and scores known inputs on the ${execution} thread`, async () => {
      const { label, score } = await scores(loadEngineFrom("onnxruntime-web"), execution);
      assert.match(label, /^onnxruntime-web /);
      assertKnownScores(score, `wasm, ${execution}`);
    });
  }

  describe("onnxruntime-node (from .otb-cache, when the benchmark installed it)", () => {
    before(function () {
      if (!fs.existsSync(NATIVE_DIR)) {
        console.log("      (skipped: no onnxruntime-node in .otb-cache; `npm run bench infer-latency` installs it)");
        this.skip();
      }
    });
    for (const execution of ["main", "worker"] as const) {
      it(`passes the check child (once per process) and scores known inputs on the ${execution} thread`, async () => {
        const native = loadEngineFrom(NATIVE_DIR);
        assert.equal(native.kind, "native");
        const { label, score } = await scores(native, execution);
        assert.match(label, /^onnxruntime-node \S+ \(native\)$/);
        assertKnownScores(score, `native, ${execution}`);
      });
    }
  });
});
