/**
 * `otbridge lint FILES...`: checks flow files against the pack's contract (node configs,
 * secrets, zones and conduits, pinned models, structure). Exit 0 clean or warnings only,
 * 1 when any error is found, 2 on bad usage. Fast enough for a pre-commit hook.
 */
import { CliError, parseArgs, type Command } from "../command";
import { expandPaths, looksLikeFlow, MissingPathError } from "../flows/files";
import { findRepoRoot, formatText, lintFile, loadSettings, RC_FILE, RULES, SettingsError } from "../flows/lint";
import type { Finding } from "../flows/lint-types";

const HELP = `Usage: otbridge lint [options] FILES|FOLDERS...

Checks Node-RED flow files: every otb node's config against its schema, no secrets in the
flow JSON, every otb-publish bound to a conduit that goes upward (L0..L3, DMZ, L4, L5), TLS
with server verification and MQTT 5 into L4/L5, every otb-infer model present and matching its
pinned sha256, every catalog/register-map file present, known node types, config nodes present,
no dangling wires. Folders are searched for *.json flows (other JSON there, such as tag
catalogs and line manifests, is skipped).

Output: one line per finding, "file:node-id: rule: message" (node-id "-" for the whole file).

Options:
  --format text|json  output format (default text)
  --config FILE       rule settings (default: ${RC_FILE} in the repo root, if present)
  --quiet             print errors only, not warnings
  --rules             list the rules and their default severity, then exit
  -h, --help          this text

${RC_FILE} (optional, in the repo root):
  { "rules": { "unmanaged-egress": "off", "dangling-wire": "warn" },
    "knownTypes": ["some-other-pack-node"], "fileRoots": ["models"] }
  rules: off | warn | error per rule id (see --rules); knownTypes: node types from other packs;
  fileRoots: folders (from the repo root) searched for relative model and catalog paths.

Exit status: 0 no errors, 1 errors found, 2 bad usage or settings.`;

const command: Command = {
  summary: "check flow files: node configs, secrets, zones/conduits, model pins, wiring",
  async run(argv) {
    const { options, positionals } = parseArgs(argv, {
      format: { type: "string", default: "text" },
      config: { type: "string" },
      quiet: { type: "boolean" },
      rules: { type: "boolean" },
      help: { type: "boolean", alias: "h" },
    });
    if (options.help) {
      console.log(HELP);
      return 0;
    }
    if (options.rules) {
      for (const r of RULES) console.log(`${r.id.padEnd(18)} ${r.severity.padEnd(6)} ${r.description}`);
      return 0;
    }
    const format = options.format as string;
    if (format !== "text" && format !== "json") throw new CliError(`--format must be text or json, got "${format}"`);
    if (positionals.length === 0) throw new CliError("lint needs at least one flow file or folder (see --help)");
    let settings;
    let files;
    try {
      settings = loadSettings(findRepoRoot(process.cwd()), options.config as string | undefined);
      files = expandPaths(positionals);
    } catch (err) {
      if (err instanceof SettingsError || err instanceof MissingPathError) throw new CliError(err.message);
      throw err;
    }
    const started = process.hrtime.bigint();
    const checked: string[] = [];
    let findings: Finding[] = [];
    for (const { file, discovered } of files) {
      if (discovered && !looksLikeFlow(file)) continue;
      checked.push(file);
      findings.push(...lintFile(file, settings));
    }
    if (options.quiet) findings = findings.filter((f) => f.severity === "error");
    const errors = findings.filter((f) => f.severity === "error").length;
    const warnings = findings.length - errors;
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (format === "json") {
      console.log(JSON.stringify({ files: checked, errors, warnings, findings }, null, 2));
    } else {
      if (findings.length > 0) console.log(formatText(findings));
      console.error(`otbridge lint: ${checked.length} file(s), ${errors} error(s), ${warnings} warning(s) in ${ms.toFixed(0)} ms`);
    }
    return errors > 0 ? 1 : 0;
  },
};

export = command;
