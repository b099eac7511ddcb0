/**
 * engine.ts keeps WebAssembly on V8's baseline compiler (Liftoff) once it chooses onnxruntime-web,
 * unless OTB_WASM_TIERUP=1 (memory and start-up CPU per process; see baselineWasmCompiler). Seen
 * in a child process, as a user's Node-RED would: after the engine loads, a hot wasm function run
 * three million times is still Liftoff code 5 s later (V8's own %IsLiftoffFunction), where V8's
 * default tiers it up to TurboFan.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as path from "path";

const ENGINE = path.join(__dirname, "..", "..", "nodes", "otb-infer", "engine.js");

/** Loads the engine named (or none), then reports the tier V8 gave a hot wasm function. */
function tierAfter(engine: string | null, env: NodeJS.ProcessEnv = {}): string {
  const script = `
    ${engine ? `require(${JSON.stringify(ENGINE)}).loadEngineFrom(${JSON.stringify(engine)});` : ""}
    // (module (func (export "f") (param i32) (result i32) local.get 0 i32.const 1 i32.add))
    const bytes = new Uint8Array([0,97,115,109,1,0,0,0, 1,6,1,96,1,127,1,127, 3,2,1,0, 7,5,1,1,102,0,0, 10,9,1,7,0,32,0,65,1,106,11]);
    const f = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.f;
    let x = 0;
    for (let i = 0; i < 3e6; i++) x = f(x);
    // TurboFan compiles on a background thread, later on a loaded machine: "turbofan" as soon as
    // it is there, the tier found after 5 s otherwise.
    if (x !== 3e6) throw new Error("wrong result " + x);
    const deadline = Date.now() + 5000;
    const look = () => {
      if (%IsTurboFanFunction(f)) return console.log("turbofan");
      if (Date.now() < deadline) return setTimeout(look, 50);
      console.log(%IsLiftoffFunction(f) ? "liftoff" : "other");
    };
    look();
  `;
  const out = execFileSync(process.execPath, ["--allow-natives-syntax", "-e", script], {
    cwd: path.join(__dirname, "..", "..", ".."),
    env: { ...process.env, OTB_WASM_TIERUP: "", ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return out.trim();
}

describe("otb-infer engine: WebAssembly on V8's baseline compiler", function () {
  this.timeout(120_000);

  it("V8 alone tiers a hot wasm function up to TurboFan (the control)", () => {
    assert.strictEqual(tierAfter(null), "turbofan");
  });

  it("after onnxruntime-web is chosen, wasm stays on Liftoff", () => {
    assert.strictEqual(tierAfter("onnxruntime-web"), "liftoff");
  });

  it("OTB_WASM_TIERUP=1 keeps V8's default tiering", () => {
    assert.strictEqual(tierAfter("onnxruntime-web", { OTB_WASM_TIERUP: "1" }), "turbofan");
  });
});
