/** Reading otb-validate's editor configuration into engine options; shared by the node and by tests. */
import * as fs from "fs";
import * as path from "path";
import { ConfigError, num, type NodeDef } from "../shared";
import { parseCatalog, parseRules, type TagRule } from "./catalog";
import type { UnknownTagPolicy } from "./engine";

export interface OtbValidateDef extends NodeDef {
  rulesFrom?: "table" | "file";
  rules?: unknown;
  catalogFile?: string;
  unknownTags?: string;
  maxStringLength?: string | number;
  summaryInterval?: string | number;
  warnBelowPct?: string | number;
}

export interface ValidateSettings {
  rules: TagRule[];
  /** Where the rules came from, for the status and the summary ("table", or the file path). */
  origin: string;
  unknownTags: UnknownTagPolicy;
  maxStringLength: number;
  /** Seconds between quality summaries on output 3; 0 sends none. */
  summaryIntervalSec: number;
  /** The status turns yellow when the recent good share falls below this percentage. */
  warnBelowPct: number;
}

const POLICIES: UnknownTagPolicy[] = ["pass", "uncertain", "bad"];

/** Resolves a catalog path: absolute, or relative to Node-RED's user directory. */
export function resolveCatalogPath(file: string, userDir: string | undefined): string {
  return path.isAbsolute(file) ? file : path.resolve(userDir ?? process.cwd(), file);
}

export function readValidateConfig(def: OtbValidateDef, userDir: string | undefined): ValidateSettings {
  let rules: TagRule[];
  let origin: string;
  if (def.rulesFrom === "file") {
    const file = String(def.catalogFile ?? "").trim();
    if (!file) throw new ConfigError("a tag catalog file is required when rules come from a file");
    const full = resolveCatalogPath(file, userDir);
    let text: string;
    try {
      text = fs.readFileSync(full, "utf8");
    } catch (err) {
      throw new ConfigError(`cannot read tag catalog ${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`tag catalog ${full} is not valid JSON: ${(err as Error).message}`);
    }
    rules = parseCatalog(doc);
    origin = file;
  } else {
    let raw = def.rules ?? [];
    if (typeof raw === "string") {
      try {
        raw = raw.trim() ? JSON.parse(raw) : [];
      } catch (err) {
        throw new ConfigError(`rules are not valid JSON: ${(err as Error).message}`);
      }
    }
    rules = parseRules(raw);
    origin = "table";
  }
  const unknownTags = POLICIES.includes(def.unknownTags as UnknownTagPolicy) ? (def.unknownTags as UnknownTagPolicy) : "pass";
  return {
    rules,
    origin,
    unknownTags,
    maxStringLength: num(def.maxStringLength, 1024, 1, 16 * 1024 * 1024),
    summaryIntervalSec: num(def.summaryInterval, 60, 0, 86_400),
    warnBelowPct: num(def.warnBelowPct, 95, 0, 100),
  };
}
