/**
 * The lint engine: runs every rule over a flow, applies the repo's rule settings, and formats
 * findings as `file:node-id: rule: message` (or JSON). Rules live in rules-*.ts, one small
 * object each; the repo's `.otbridgerc.json` (see loadSettings) turns them off or down.
 */
import * as fs from "fs";
import * as path from "path";
import { readFlow, type Flow, type FlowNode } from "./flow-file";
import type { Finding, LintSettings, ReportOptions, Rule, Severity, SeveritySetting } from "./lint-types";
import { nodeConfig } from "./rules-node-config";
import { catalogFile } from "./rules-files";
import { modelPinned } from "./rules-model";
import { conduitTls, conduitZones, noSecrets, publishConduit, unmanagedEgress } from "./rules-security";
import { danglingWire, duplicateId, missingConfig, unknownType } from "./rules-structure";

export const RULES: readonly Rule[] = [
  duplicateId, unknownType, missingConfig, danglingWire, nodeConfig,
  noSecrets, conduitZones, conduitTls, publishConduit, modelPinned, catalogFile, unmanagedEgress,
];

/** The per-repo rule file, read from the repo root. */
export const RC_FILE = ".otbridgerc.json";

const rcSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    $schema: { type: "string" },
    rules: { type: "object", additionalProperties: { enum: ["error", "warn", "off"] } },
    knownTypes: { type: "array", items: { type: "string", minLength: 1 } },
    fileRoots: { type: "array", items: { type: "string", minLength: 1 } },
  },
} as const;
/** Compiled on first use: most runs have no rc file and need no schema compiler. */
let validateRc: import("ajv").ValidateFunction | undefined;

export class SettingsError extends Error {}

/** The repo root: the nearest folder up from `start` holding .otbridgerc.json or .git. */
export function findRepoRoot(start: string): string {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, RC_FILE)) || fs.existsSync(path.join(dir, ".git"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(start);
    dir = parent;
  }
}

/** Default settings, overlaid with `configFile` (or the repo root's .otbridgerc.json when it exists). */
export function loadSettings(root: string, configFile?: string): LintSettings {
  const settings: LintSettings = { rules: {}, knownTypes: new Set(), fileRoots: [], root };
  for (const rule of RULES) settings.rules[rule.id] = rule.severity;
  const file = configFile ?? path.join(root, RC_FILE);
  if (!configFile && !fs.existsSync(file)) return settings;
  let rc: unknown;
  try {
    rc = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new SettingsError(`${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : `not valid JSON (${(err as Error).message})`}`);
  }
  if (!validateRc) {
    const Ajv = (require("ajv") as typeof import("ajv")).default;
    validateRc = new Ajv({ allErrors: true }).compile(rcSchema);
  }
  if (!validateRc(rc)) {
    const e = validateRc.errors?.[0];
    throw new SettingsError(`${file}: ${e?.instancePath || "(top)"} ${e?.message ?? "is invalid"}${e?.params && "additionalProperty" in e.params ? ` "${String(e.params.additionalProperty)}"` : ""}`);
  }
  const typed = rc as { rules?: Record<string, SeveritySetting>; knownTypes?: string[]; fileRoots?: string[] };
  for (const [id, level] of Object.entries(typed.rules ?? {})) {
    if (!(id in settings.rules)) throw new SettingsError(`${file}: unknown rule "${id}" (known: ${RULES.map((r) => r.id).join(", ")})`);
    settings.rules[id] = level;
  }
  settings.knownTypes = new Set(typed.knownTypes ?? []);
  settings.fileRoots = typed.fileRoots ?? [];
  return settings;
}

/** Runs the enabled rules over one parsed flow. Findings come out in file order, then rule order. */
export function lintFlow(flow: Flow, settings: LintSettings): Finding[] {
  const findings: Finding[] = [];
  const fieldOf = new Map<Finding, string>();
  const seen = new Set<string>();
  for (const rule of RULES) {
    const level = settings.rules[rule.id] ?? rule.severity;
    if (level === "off") continue;
    rule.check({
      flow,
      settings,
      report(node: FlowNode | "-", message: string, options: boolean | ReportOptions = {}) {
        const { downgrade = false, field } = typeof options === "boolean" ? { downgrade: options } : options;
        const id = node === "-" ? "-" : node.id;
        const key = `${id}\0${rule.id}\0${message}`;
        if (seen.has(key)) return;
        seen.add(key);
        const severity: Severity = downgrade ? "warn" : level;
        const finding: Finding = { file: flow.file, node: id, rule: rule.id, severity, message };
        if (node !== "-") {
          finding.type = node.type;
          if (typeof node.name === "string" && node.name) finding.name = node.name;
        }
        findings.push(finding);
        if (field && node !== "-") fieldOf.set(finding, field);
      },
    });
  }
  const order = new Map(flow.nodes.map((n, i) => [n.id, i] as const));
  return oneFindingPerCause(findings, fieldOf).sort((a, b) => (order.get(a.node) ?? -1) - (order.get(b.node) ?? -1));
}

/**
 * node-config runs every field's schema check; a contract rule (conduit-zones, conduit-tls,
 * model-pinned) may find the same field of the same node wrong: one cause, one finding. The
 * contract rule's finding stays (its id is the one a repo configures), unless the repo made it
 * milder than node-config's: the runtime refuses such a node whatever the repo's setting, so the
 * error stays. A rule turned off reports nothing, so the cause is still reported once.
 */
function oneFindingPerCause(findings: Finding[], fieldOf: ReadonlyMap<Finding, string>): Finding[] {
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const field = fieldOf.get(f);
    if (!field) continue;
    const key = `${f.node}\0${field}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const drop = new Set<Finding>();
  for (const group of groups.values()) {
    const own = group.filter((f) => f.rule === nodeConfig.id);
    const contract = group.filter((f) => f.rule !== nodeConfig.id);
    if (own.length === 0 || contract.length === 0) continue;
    const milder = own.some((f) => f.severity === "error") && contract.every((f) => f.severity === "warn");
    for (const f of milder ? contract : own) drop.add(f);
  }
  return findings.filter((f) => !drop.has(f));
}

/** Lints a file; a file that is not a usable flow becomes one "flow-file" error. */
export function lintFile(file: string, settings: LintSettings): Finding[] {
  let flow: Flow;
  try {
    flow = readFlow(file);
  } catch (err) {
    const message = (err as Error).message.startsWith(`${file}: `) ? (err as Error).message.slice(file.length + 2) : (err as Error).message;
    return [{ file, node: "-", rule: "flow-file", severity: "error", message }];
  }
  return lintFlow(flow, settings);
}

export function formatText(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.file}:${f.node}: ${f.rule}: ${f.severity === "warn" ? "warning: " : ""}${f.message}`).join("\n");
}
