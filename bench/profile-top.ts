/**
 * Top self-time functions of a V8 CPU profile, for the README's "where the time goes". The
 * pipeline benchmark profiles its measured slices only (no start-up, warm-up or reference):
 *   node dist/bench/run.js pipeline --runs 1 --profile /tmp/prof
 *   node dist/bench/profile-top.js /tmp/prof/pipeline-pack-0.cpuprofile [N]
 * (pipeline-reference-0.cpuprofile is the change nodes'); any `node --cpu-prof` file works too.
 * Self time is attributed from the sample counts; functions are keyed by name and file:line, the
 * file shortened to the package (node_modules/<pkg>/...) or the repo path. "By stage" charges
 * each sample to the innermost pack node folder (dist/nodes/otb-*) on its stack, so a node's
 * share includes the shared code and libraries it calls (onnxruntime and WebAssembly count as
 * otb-infer's); the rest is Node-RED, Node.js, GC and the driver. Self time is the sum of the
 * samples' time deltas, so on a loaded machine a sample that waited for the CPU weighs more:
 * compare shares of one profile, not profiles taken at different loads.
 */
import * as fs from "fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function shortUrl(url: string): string {
  if (!url) return "(native)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm + "node_modules/".length);
  const dist = url.indexOf("/dist/");
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, "");
}

function main(): void {
  const [file, nArg] = process.argv.slice(2);
  const n = Number(nArg) || 25;
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  // The stage of a profile node: the innermost otb node folder on its stack (memoised per node id).
  const stageOf = new Map<number, string>();
  const stage = (id: number): string => {
    const known = stageOf.get(id);
    if (known !== undefined) return known;
    const url = byId.get(id)?.callFrame.url ?? "";
    const m = /\/dist\/nodes\/(otb-[a-z-]+)\//.exec(url);
    const up = parent.get(id);
    // onnxruntime and its WebAssembly run from promise jobs, often with no otb-infer frame above them.
    const s = m ? m[1]! : /onnxruntime|^wasm:/.test(url) ? "otb-infer" : up === undefined ? "" : stage(up);
    stageOf.set(id, s);
    return s;
  };
  const byStage = new Map<string, number>();
  const self = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    const f = node.callFrame;
    const where = shortUrl(f.url);
    const key = `${f.functionName || "(anonymous)"}  ${where}${f.url ? `:${f.lineNumber + 1}` : ""}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    const pkg = f.url ? (where.startsWith("dist/") ? where.split("/").slice(0, 3).join("/") : where.split("/").slice(0, where.startsWith("@") ? 2 : 1).join("/")) : f.functionName || "(native)";
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + dt);
    const st = stage(id) || (f.url ? "Node-RED, Node.js and the driver" : f.functionName || "(native)");
    byStage.set(st, (byStage.get(st) ?? 0) + dt);
    total += dt;
  });
  const pct = (v: number): string => ((100 * v) / total).toFixed(1).padStart(5);
  console.log(`total sampled ${(total / 1e6).toFixed(1)} s`);
  console.log("\nby stage (the innermost otb node on the stack, with what it calls):");
  for (const [k, v] of [...byStage].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`${pct(v)} %  ${k}`);
  console.log("\nby package or folder (self time):");
  for (const [k, v] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(v)} %  ${k}`);
  console.log(`\ntop ${n} functions (self time):`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pct(v)} %  ${k}`);
}

main();
