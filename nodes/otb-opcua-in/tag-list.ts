/**
 * The tag list of an otb-opcua-in: what the editor table edits, what a tag catalog JSON file
 * holds (so IT reviews it as data), parsed and checked in one place. A tag whose node id does
 * not even parse is not a config error: it becomes a bad Signal with a reason while the other
 * tags flow, as a tag the server does not know does.
 */
import * as fs from "fs";
import * as path from "path";
import { ConfigError, lazyValidator, describeErrors, num } from "../shared";
import { readConfig } from "../shared/schema";
import { schema, type OpcuaInFields } from "./schema";

export type DeadbandType = "none" | "absolute" | "percent";

export interface TagDef {
  nodeId: string;
  tag: string;
  /** ms; 0 asks the server for its fastest rate; -1 (or empty) means "the publishing interval". */
  samplingInterval: number;
  deadbandType: DeadbandType;
  deadband: number;
  queueSize: number;
  unit?: string;
}

const tagSchema = {
  type: "object",
  required: ["nodeId", "tag"],
  properties: {
    nodeId: { type: "string", minLength: 1 },
    tag: { type: "string", minLength: 1, maxLength: 200 },
    samplingInterval: { type: ["number", "string"] },
    deadbandType: { enum: ["none", "absolute", "percent", ""] },
    deadband: { type: ["number", "string"] },
    queueSize: { type: ["number", "string"] },
    unit: { type: "string" },
  },
};
const validateCatalog = lazyValidator((ajv) => ajv.compile({
  oneOf: [
    { type: "array", items: tagSchema },
    { type: "object", required: ["tags"], properties: { tags: { type: "array", items: tagSchema } } },
  ],
}));

/** Checks and normalises raw tag rows (from the form, a flow file or a catalog). */
export function parseTags(raw: unknown): TagDef[] {
  let rows: unknown = raw;
  if (typeof rows === "string") {
    if (!rows.trim()) return [];
    try {
      rows = JSON.parse(rows);
    } catch (err) {
      throw new ConfigError(`tag list is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (rows === undefined || rows === null) return [];
  if (!validateCatalog(rows)) throw new ConfigError(`tag list: ${describeErrors(validateCatalog.errors)}`);
  const list = (Array.isArray(rows) ? rows : (rows as { tags: unknown[] }).tags) as Array<Record<string, unknown>>;
  const seen = new Set<string>();
  return list.map((row, i) => {
    const tag = String(row.tag).trim();
    if (!tag) throw new ConfigError(`tag ${i + 1}: the tag name is empty`);
    if (seen.has(tag)) throw new ConfigError(`tag "${tag}" appears twice; tag names must be unique within a node`);
    seen.add(tag);
    const deadbandType = (String(row.deadbandType || "none") as DeadbandType) || "none";
    const deadband = num(row.deadband, 0, 0);
    if (deadbandType === "percent" && deadband > 100) throw new ConfigError(`tag "${tag}": a percent deadband must be 0..100`);
    const def: TagDef = {
      nodeId: String(row.nodeId).trim(),
      tag,
      samplingInterval: num(row.samplingInterval, -1, -1, 3_600_000),
      deadbandType,
      deadband,
      queueSize: Math.round(num(row.queueSize, 10, 1, 10_000)),
    };
    if (typeof row.unit === "string" && row.unit.trim()) def.unit = row.unit.trim();
    return def;
  });
}

/**
 * Loads a tag catalog file. The node gives it resolved against the Node-RED user folder
 * (ctx.userFile), so a project keeps its catalogs beside its flows; `baseDir` resolves a relative one here.
 */
export function loadCatalog(file: string, baseDir?: string): TagDef[] {
  const full = path.isAbsolute(file) || baseDir === undefined ? path.resolve(file) : path.join(baseDir, file);
  let text: string;
  try {
    text = fs.readFileSync(full, "utf8");
  } catch (err) {
    throw new ConfigError(`tag catalog ${full} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseTags(text);
  } catch (err) {
    throw new ConfigError(`tag catalog ${full}: ${(err as Error).message}`);
  }
}

/** The tag list a checked config names: the catalog file (resolved by `userFile`, relative to userDir) or the table. */
export function tagsOf(config: OpcuaInFields, userFile: (file: string) => string): TagDef[] {
  const tags = config.catalogPath ? loadCatalog(userFile(config.catalogPath)) : parseTags(config.tags);
  if (tags.length === 0) throw new ConfigError("tags: the tag list is empty");
  return tags;
}

/** A saved otb-opcua-in as lint reads it (pure: a catalog file is not read, the table is). */
export function parseOpcuaInConfig(def: Record<string, unknown>): TagDef[] {
  const config = readConfig(schema, def);
  return config.catalogPath ? [] : parseTags(rowsKnownNow(config.tags));
}

/** Table rows without a whole ${VAR} value: Node-RED substitutes those at deploy, lint cannot judge them. */
export function rowsKnownNow(rows: unknown): unknown {
  if (!Array.isArray(rows)) return rows;
  const env = (v: unknown): boolean => typeof v === "string" && /^\$\{[^}]+\}$/.test(v.trim());
  return rows.filter((row) => !(row && typeof row === "object" && Object.values(row as Record<string, unknown>).some(env)));
}
