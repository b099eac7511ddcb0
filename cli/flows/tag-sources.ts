/**
 * Every tag an ingestion node reads, from every place it can come from (issue 15 item 7: an
 * inventory that under-reports is worse than none): otb-opcua-in's tag list or catalog file,
 * otb-modbus-in's register map inline or from a file, otb-mqtt-in's JSON mapping rows. Files
 * are read with the nodes' own parsers, so the inventory counts what the node would poll.
 * Whatever cannot be known from the flow (a file that is missing, a tag named per message, a
 * Sparkplug B metric named by an edge node's BIRTH) is listed in `incomplete`, never guessed.
 */
import * as fs from "fs";
import * as path from "path";
import { parseTags, type TagDef } from "../../nodes/otb-opcua-in/tag-list";
import { parseRegisterMap } from "../../nodes/otb-modbus-in/register-map";
import { asData } from "./deep-diff";
import type { EnvResolver } from "./env-resolve";
import { describeNode, isObject, type FlowNode } from "./flow-file";
import { resolveRepoFile } from "./rules-model";

export interface TagSourceResult {
  tags: string[];
  /** "file flows/catalog/x.json (13 tags)", "table (7 tags)": where the tags came from. */
  from: string[];
  incomplete: string[];
  /** `${VAR}` values taken from the flow's env defaults. */
  envDefaults: string[];
}

/** The repo this inventory ships in: pack paths (node_modules/node-red-contrib-otbridge/...) resolve here. */
const PACK_ROOT = path.resolve(__dirname, "..", "..", "..");
const PACK_PREFIX = "node_modules/node-red-contrib-otbridge/";

export function tagSources(node: FlowNode, flowFile: string, env: EnvResolver): TagSourceResult {
  const out: TagSourceResult = { tags: [], from: [], incomplete: [], envDefaults: [] };
  const who = describeNode(node);
  const text = (field: string): string | null => {
    const v = node[field];
    if (typeof v !== "string" || !v.trim()) return null;
    const r = env.resolve(node, v.trim());
    if (r.note) out.envDefaults.push(`${who} ${field}: ${r.note} = ${JSON.stringify(r.value)}`);
    if (r.unresolved) {
      out.incomplete.push(`${who} ${field} ${r.unresolved}`);
      return null;
    }
    return r.value.trim() || null;
  };
  const rows = (field: string): Array<Record<string, unknown>> => {
    const data = asData(node[field]);
    return Array.isArray(data) ? data.filter(isObject) : [];
  };
  const tag = (raw: unknown, where: string): string | null => {
    if (typeof raw !== "string" || !raw.trim()) return null;
    const r = env.resolve(node, raw.trim());
    if (r.unresolved) {
      out.incomplete.push(`${who} ${where}: tag ${r.unresolved}`);
      return null;
    }
    if (r.note) out.envDefaults.push(`${who} ${where}: ${r.note} = ${JSON.stringify(r.value)}`);
    return r.value;
  };

  switch (node.type) {
    case "otb-opcua-in": {
      const catalog = text("catalogPath");
      if (catalog) {
        const parsed = readFile(catalog, flowFile, (data) => parseTags(data).map((t: TagDef) => t.tag));
        if ("error" in parsed) out.incomplete.push(`${who}: tag catalog ${parsed.error}`);
        else push(out, parsed.tags, `catalog ${catalog}`);
      } else if (node.catalogPath === undefined || !String(node.catalogPath).trim()) {
        push(out, rows("tags").map((r, i) => tag(r.tag, `tags[${i}]`)).filter((t): t is string => t !== null), "tag table");
      }
      break;
    }
    case "otb-modbus-in": {
      if (node.mapSource === "file") {
        const file = text("mapFile");
        if (file) {
          const parsed = readFile(file, flowFile, (data) => parseRegisterMap(data).tags.map((t) => t.tag));
          if ("error" in parsed) out.incomplete.push(`${who}: register map ${parsed.error}`);
          else push(out, parsed.tags, `register map ${file}`);
        } else if (!out.incomplete.length) out.incomplete.push(`${who}: register map from a file, but no file named`);
      } else {
        push(out, rows("tags").map((r, i) => tag(r.tag, `tags[${i}]`)).filter((t): t is string => t !== null), "register table");
      }
      break;
    }
    case "otb-mqtt-in":
      mqttTags(node, who, out, rows, tag);
      break;
    default: {
      // An ingestion type this inventory does not know: take whatever tables name tags, and say so.
      const found = Object.keys(node).flatMap((k) => rows(k).map((r) => (typeof r.tag === "string" ? r.tag : null))).filter((t): t is string => t !== null);
      push(out, found, "tables");
      out.incomplete.push(`${who}: ${node.type} is not an otbridge ingestion node; only tags named in its tables are listed`);
    }
  }
  return out;
}

function push(out: TagSourceResult, tags: string[], from: string): void {
  out.tags.push(...tags);
  out.from.push(`${from} (${tags.length} tag${tags.length === 1 ? "" : "s"})`);
}

/**
 * otb-mqtt-in: a mapping row with a literal tag names it; `{1}`/`{field:...}` names it per
 * message. With no rows a JSON sensor's tags are its topic and fields, and Sparkplug B tags
 * come from the edge nodes' BIRTHs: known only at run time.
 */
function mqttTags(node: FlowNode, who: string, out: TagSourceResult, rows: (f: string) => Array<Record<string, unknown>>, tag: (raw: unknown, where: string) => string | null): void {
  const format = String(node.format || "auto");
  const topics = rows("topics").map((t) => String(t.topic ?? "")).filter(Boolean);
  if (typeof node.topics === "string") topics.push(...node.topics.split(/[\n,]/).map((t) => t.trim()).filter(Boolean));
  const sparkplug = topics.filter((t) => format === "sparkplug" || (format === "auto" && /^(spBv1\.0|\+|#)(\/|$)/.test(t)));
  if (sparkplug.length) out.incomplete.push(`${who}: Sparkplug B tags are named by the edge nodes' BIRTH messages on ${sparkplug.join(", ")} (known only at run time)`);
  if (format === "sparkplug") return;
  const mapping = rows("mapping");
  if (mapping.length === 0) {
    const json = topics.filter((t) => !sparkplug.includes(t));
    if (json.length) out.incomplete.push(`${who}: no mapping rows, so every scalar field of every message on ${json.join(", ")} becomes a tag (known only at run time)`);
    return;
  }
  const named: string[] = [];
  mapping.forEach((r, i) => {
    const field = String(r.field ?? "");
    const filter = String(r.topic ?? "");
    const raw = typeof r.tag === "string" && r.tag.trim() ? r.tag.trim() : null;
    if (raw && /\{[^}]+\}/.test(raw)) {
      out.incomplete.push(`${who} mapping[${i}]: tag "${raw}" is named per message from ${/\{field:/.test(raw) ? "the payload" : "topic levels"} of ${filter || "every topic"}`);
    } else if (raw) {
      const t = tag(raw, `mapping[${i}]`);
      if (t) named.push(t);
    } else if (filter && !/[+#]/.test(filter)) {
      named.push(`${filter.split("/").filter(Boolean).join(".")}.${field}`);
    } else {
      out.incomplete.push(`${who} mapping[${i}]: field ${field} has no tag, so it is named after each matching topic of ${filter || "every topic"}`);
    }
  });
  push(out, named, "mapping rows");
}

/** Reads a catalog or map file the way the node does, looking where lint looks. */
function readFile(name: string, flowFile: string, parse: (data: unknown) => string[]): { tags: string[] } | { error: string } {
  const roots = ancestors(path.dirname(path.resolve(flowFile)));
  let file = resolveRepoFile(name, flowFile, process.cwd(), roots);
  if (!file && name.startsWith(PACK_PREFIX)) file = resolveRepoFile(name.slice(PACK_PREFIX.length), flowFile, PACK_ROOT, []);
  if (!file) return { error: `${name} not found (looked beside the flow, in its parent folders and the working folder)` };
  try {
    return { tags: parse(JSON.parse(fs.readFileSync(file, "utf8"))) };
  } catch (err) {
    return { error: `${name} cannot be read: ${(err as Error).message}` };
  }
}

function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    out.push(d);
    if (path.dirname(d) === d || out.length > 12) return out;
  }
}
