/**
 * `otbridge clone`: the pilot template + a line manifest -> that line's flow, with ids derived
 * deterministically so regenerating produces no diff; `--check` reports generated flows that
 * drifted from template + manifest, field by field.
 */
import * as fs from "fs";
import * as path from "path";
import { CliError, parseArgs, type Command } from "../command";
import { CloneError, cloneFlow } from "../flows/cloner";
import { driftLines } from "../flows/drift";
import { FlowFileError, parseFlow, readFlow, serializeFlow } from "../flows/flow-file";
import { findRepoRoot } from "../flows/lint";
import { ManifestError, readManifest, type LineManifest } from "../flows/manifest";
import { fileSha256, resolveRepoFile } from "../flows/rules-model";

const HELP = `Usage: otbridge clone --manifest LINE.json [--template FLOW.json] [--out OUT.json]
       otbridge clone --check [--manifest LINE.json ...]

Generates one line's flow from the single-line pilot template and a line manifest (schema:
cli/flows/line-manifest.schema.json; examples in flows/lines/). Node ids derive from the
manifest's line.id and the template's ids: the same inputs give a byte-identical file.

Options:
  --manifest FILE  line manifest (repeatable with --check)
  --template FILE  template flow (default: the manifest's "template", else flows/single-line-pilot.json)
  --out FILE       generated flow (default: the manifest's "out"); "-" writes to stdout
  --check          write nothing; list, field by field, how each generated flow differs from
                   template + manifest (default: every manifest in flows/lines/)
  -h, --help       this text

Paths inside a manifest are relative to the repo root.
Exit status: 0 done (or no drift), 1 drift found, 2 bad input.`;

interface Job {
  manifestFile: string;
  manifest: LineManifest;
  template: string;
  out: string;
}

const command: Command = {
  summary: "generate a line's flow from the pilot template and a line manifest (--check: drift)",
  async run(argv) {
    const { options } = parseArgs(argv, {
      manifest: { type: "list" },
      template: { type: "string" },
      out: { type: "string" },
      check: { type: "boolean" },
      help: { type: "boolean", alias: "h" },
    });
    if (options.help) {
      console.log(HELP);
      return 0;
    }
    const root = findRepoRoot(process.cwd());
    let manifests = (options.manifest as string[] | undefined) ?? [];
    if (manifests.length === 0 && options.check) manifests = defaultManifests(root);
    if (manifests.length === 0) throw new CliError("clone needs --manifest FILE (see --help)");
    if (!options.check && manifests.length > 1) throw new CliError("generate one line at a time (several --manifest only with --check)");
    if (options.check && options.out === "-") throw new CliError("--check compares with a file; --out - has nothing to compare");
    try {
      const jobs = manifests.map((m) => job(m, root, options.template as string | undefined, options.out as string | undefined));
      const [first] = jobs;
      if (!first) throw new CliError("clone needs --manifest FILE (see --help)");
      return options.check ? check(jobs) : generate(first, root);
    } catch (err) {
      if (err instanceof ManifestError || err instanceof FlowFileError || err instanceof CloneError) throw new CliError(err.message);
      throw err;
    }
  },
};

function defaultManifests(root: string): string[] {
  const dir = path.join(root, "flows", "lines");
  if (!fs.existsSync(dir)) throw new CliError(`no --manifest given and ${path.relative(process.cwd(), dir) || dir} does not exist`);
  return fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => path.join(dir, f));
}

function job(manifestFile: string, root: string, template?: string, out?: string): Job {
  const manifest = readManifest(manifestFile);
  const fromRoot = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.relative(process.cwd(), path.resolve(root, p)) || ".");
  const tpl = template ?? fromRoot(manifest.template) ?? fromRoot("flows/single-line-pilot.json")!;
  const dest = out ?? fromRoot(manifest.out);
  if (!dest) throw new CliError(`${manifestFile}: no "out" in the manifest and no --out given`);
  if (dest !== "-" && path.resolve(dest) === path.resolve(tpl)) throw new CliError(`${manifestFile}: the output would overwrite the template ${tpl}`);
  return { manifestFile, manifest, template: tpl, out: dest };
}

function render(j: Job): string {
  return serializeFlow(cloneFlow(readFlow(j.template), j.manifest));
}

function generate(j: Job, root: string): number {
  const text = render(j);
  checkModel(j, root);
  if (j.out === "-") {
    process.stdout.write(text);
    return 0;
  }
  const unchanged = fs.existsSync(j.out) && fs.readFileSync(j.out, "utf8") === text;
  if (!unchanged) {
    fs.mkdirSync(path.dirname(path.resolve(j.out)), { recursive: true });
    fs.writeFileSync(j.out, text);
  }
  console.error(`otbridge clone: ${j.out} ${unchanged ? "unchanged" : "written"} (${j.manifest.line.id}, from ${j.template})`);
  return 0;
}

/** The manifest pins its model: refuse a file whose bytes do not match; say so when it cannot be found. */
function checkModel(j: Job, root: string): void {
  const model = j.manifest.model;
  if (!model) return;
  const base = j.out === "-" ? path.join(process.cwd(), "flow.json") : j.out;
  const file = resolveRepoFile(model.file, base, root, []);
  if (!file) {
    console.error(`otbridge clone: warning: model ${model.file} not found; 'otbridge lint' will report it`);
    return;
  }
  const actual = fileSha256(file);
  if (actual !== model.sha256) throw new CliError(`${j.manifestFile}: model ${model.file} has sha256 ${actual}, the manifest pins ${model.sha256}`);
}

function check(jobs: Job[]): number {
  let drifted = 0;
  for (const j of jobs) {
    const expected = parseFlow(render(j), `${j.template} + ${j.manifestFile}`);
    if (!fs.existsSync(j.out)) {
      console.log(`${j.out}: not generated yet (run otbridge clone --manifest ${j.manifestFile})`);
      drifted++;
      continue;
    }
    const lines = driftLines(expected, readFlow(j.out));
    try {
      checkModel(j, findRepoRoot(process.cwd()));
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      lines.push(err.message);
    }
    if (lines.length === 0) {
      console.log(`${j.out}: up to date`);
      continue;
    }
    drifted++;
    console.log(`${j.out}: drifted from ${j.template} + ${j.manifestFile}:`);
    for (const l of lines) console.log(`  ${l}`);
  }
  return drifted > 0 ? 1 : 0;
}

export = command;
