/**
 * `npm run bench [name...] [--runs N] [--quick] [--json FILE] [--option value | --option=value]`:
 * runs every bench/*.bench.js (or the named ones), prints each figure's median pack value, raw
 * value and ratio. Other options go to the benchmarks, `--option value` as `--option=value`.
 */
import * as fs from "fs";
import * as path from "path";
import { median, ratio, type Benchmark, type Figure } from "./harness";

interface Row extends Figure {
  benchmark: string;
  runs: number;
  ratio: number;
}

function parse(argv: string[]): { names: string[]; runs?: number; quick: boolean; json?: string; extra: string[] } {
  const out: { names: string[]; runs?: number; quick: boolean; json?: string; extra: string[] } = { names: [], quick: false, extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--runs") out.runs = Number(argv[++i]);
    else if (a === "--quick") out.quick = true;
    else if (a === "--json") out.json = argv[i + 1] && !argv[i + 1].startsWith("--") ? argv[++i] : "-";
    // `--lines 5` reaches a benchmark as `--lines=5`: a value that is neither an option nor a benchmark's name.
    else if (a.startsWith("--") && !a.includes("=") && i + 1 < argv.length && !argv[i + 1].startsWith("--") && !available().includes(argv[i + 1])) out.extra.push(`${a}=${argv[++i]}`);
    else if (a.startsWith("--")) out.extra.push(a);
    else out.names.push(a);
  }
  return out;
}

function available(): string[] {
  return fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith(".bench.js"))
    .map((f) => f.slice(0, -".bench.js".length))
    .sort();
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  return a >= 1000 ? Math.round(n).toLocaleString("en-US") : a >= 10 ? n.toFixed(1) : n.toFixed(3);
}

async function main(): Promise<number> {
  const opts = parse(process.argv.slice(2));
  const all = available();
  const unknown = opts.names.filter((n) => !all.includes(n));
  if (unknown.length) {
    console.error(`bench: unknown benchmark(s) ${unknown.join(", ")}; available: ${all.join(", ")}`);
    return 2;
  }
  const rows: Row[] = [];
  for (const name of opts.names.length ? opts.names : all) {
    const bench = require(path.join(__dirname, `${name}.bench.js`)) as Benchmark;
    const runs = opts.runs ?? bench.runs ?? 5;
    console.log(`\n# ${bench.name}: ${bench.description} (median of ${runs})`);
    const samples = new Map<string, Figure[]>();
    for (let i = 0; i < runs; i++) {
      for (const f of await bench.run({ quick: opts.quick, iteration: i, args: opts.extra })) {
        samples.set(f.name, [...(samples.get(f.name) ?? []), f]);
      }
    }
    console.log(`  ${"figure".padEnd(46)} ${"pack".padStart(12)} ${"raw".padStart(12)} ${"ratio".padStart(7)}  unit`);
    for (const [fname, fs_] of samples) {
      const pack = median(fs_.map((f) => f.pack));
      const raw = median(fs_.map((f) => f.raw));
      const row: Row = { ...fs_[0], pack, raw, benchmark: bench.name, runs: fs_.length, ratio: ratio({ pack, raw }) };
      rows.push(row);
      const better = row.higherIsBetter ? "higher is better" : "lower is better";
      console.log(`  ${fname.padEnd(46)} ${fmt(pack).padStart(12)} ${fmt(raw).padStart(12)} ${fmt(row.ratio).padStart(7)}  ${row.unit} (${better})${row.note ? `; ${row.note}` : ""}`);
    }
  }
  if (opts.json) {
    const text = JSON.stringify({ node: process.version, cpus: require("os").cpus().length, at: new Date().toISOString(), figures: rows }, null, 2);
    if (opts.json === "-") console.log(text);
    else fs.writeFileSync(opts.json, text + "\n");
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Benchmarks may leave sockets or timers from the libraries they load; exit explicitly.
    setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
