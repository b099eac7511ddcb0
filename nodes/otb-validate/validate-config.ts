/** otb-validate's checked configuration (schema.ts) with its rules read: from the table or a catalog file. */
import * as fs from "fs";
import { ConfigError } from "../shared/errors";
import { readConfig, type ConfigOf } from "../shared/schema";
import { parseCatalog, parseRules, type TagRule } from "./catalog";
import type { UnknownTagPolicy } from "./engine";
import { schema } from "./schema";

export type ValidateFields = ConfigOf<typeof schema>;

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

/** As lint runs it: the fields, and the rule table (a catalog file is read only at deploy). */
export function parseValidateConfig(def: Record<string, unknown>): ValidateFields {
  const c = readConfig(schema, def);
  if (c.rulesFrom !== "file") parseRules(c.rules);
  return c;
}

/** The settings of a checked config; `resolve` turns the catalog file's name into a path (userDir). */
export function validateSettings(c: ValidateFields, resolve: (file: string) => string): ValidateSettings {
  let rules: TagRule[];
  let origin = "table";
  if (c.rulesFrom === "file") {
    origin = c.catalogFile;
    rules = parseCatalog(readJson(resolve(origin)));
  } else rules = parseRules(c.rules);
  return {
    rules,
    origin,
    unknownTags: c.unknownTags,
    maxStringLength: c.maxStringLength,
    summaryIntervalSec: c.summaryInterval,
    warnBelowPct: c.warnBelowPct,
  };
}

function readJson(full: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(full, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read tag catalog ${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`tag catalog ${full} is not valid JSON: ${(err as Error).message}`);
  }
}
