/**
 * What the editor knows about each otb node type, read from the node's own editor file
 * (nodes/<type>/<type>.html): its `defaults` (required flags, config-node references, editor
 * validators) and its `credentials` fields. The registerType script runs in a `vm` sandbox with a
 * stub RED, so lint applies exactly the validation the editor shows as a red triangle, with no
 * second copy of each node's field list to drift. A type whose editor file does not exist yet,
 * or does not load, simply has no editor-derived checks (the contract rules still apply).
 */
import * as fs from "fs";
import * as path from "path";
import { editorHtml } from "../editor-html";
import * as vm from "vm";
import { fieldProblem } from "../../nodes/shared/schema/field-problem";
import type { NodeSchema } from "../../nodes/shared/schema/field-spec";
import { SCHEMAS } from "./node-schemas";

export type EditorValidator = (this: Record<string, unknown>, value: unknown, opt?: unknown) => unknown;

export interface FieldDef {
  value?: unknown;
  required?: boolean;
  /** Set when the field holds the id of a config node of this type. */
  type?: string;
  validate?: EditorValidator;
}

export interface NodeTypeDef {
  type: string;
  category?: string;
  defaults: Record<string, FieldDef>;
  /** Field name -> "text" | "password". */
  credentials: Record<string, string>;
  /** Resolves an i18n key (as RED._ would) against the node's en-US catalog. */
  message(key: string, vars?: Record<string, unknown>): string;
}

/** The pack's root: dist/cli/flows -> repo root, or cli/flows when run from sources. */
export const PACK_ROOT = findPackRoot(__dirname);

function findPackRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json")) && (fs.existsSync(path.join(dir, "nodes")) || fs.existsSync(path.join(dir, "dist", "nodes")))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(__dirname, "..", "..", "..");
    dir = parent;
  }
}

const cache = new Map<string, NodeTypeDef | null>();

/** The editor definition of `type`, or null when the pack has no loadable editor file for it. */
export function editorDef(type: string, root = PACK_ROOT): NodeTypeDef | null {
  const entry = SCHEMAS[type];
  if (entry) return fromSchema(entry.schema);
  const key = `${root}\0${type}`;
  if (!cache.has(key)) cache.set(key, loadEditorDef(type, root));
  return cache.get(key) ?? null;
}

/** The editor's defaults as the build generates them from the schema (cli/editor-html.ts): the same checks. */
function fromSchema(schema: NodeSchema): NodeTypeDef {
  const defaults: Record<string, FieldDef> = { version: { value: schema.version } };
  for (const [name, spec] of Object.entries(schema.fields)) {
    defaults[name] =
      spec.kind === "ref"
        ? { value: spec.default, required: spec.required === true, type: spec.configType }
        : {
            value: spec.default,
            validate(this: Record<string, unknown>, value: unknown) {
              return fieldProblem(name, spec, value, this, schema.checks ?? {}) ?? true;
            },
          };
  }
  const credentials: Record<string, string> = {};
  for (const [name, c] of Object.entries(schema.credentials ?? {})) credentials[name] = c.type;
  return { type: schema.type, category: undefined, defaults, credentials, message: (key) => key };
}

function loadEditorDef(type: string, root: string): NodeTypeDef | null {
  if (!/^otb-[a-z0-9-]+$/.test(type)) return null;
  // Sources in a checkout; the built copy (dist/nodes, beside the .js) in an installed package.
  const dir = [path.join(root, "nodes", type), path.join(root, "dist", "nodes", type)].find((d) => fs.existsSync(path.join(d, `${type}.html`)));
  if (!dir) return null;
  const htmlFile = path.join(dir, `${type}.html`);
  let html: string;
  try {
    // In a checkout the form guard is still a marker line: read it as the build writes it.
    html = dir.startsWith(path.join(root, "nodes")) ? editorHtml(htmlFile, root) : fs.readFileSync(htmlFile, "utf8");
  } catch {
    return null;
  }
  const catalog = readCatalog(path.join(dir, "locales", "en-US", `${type}.json`));
  const message = (key: string, vars?: Record<string, unknown>): string => {
    const text = lookup(catalog, key.includes(":") ? key.slice(key.indexOf(":") + 1) : key) ?? key;
    // i18next placeholders, as RED._(key, {min: 1}) fills them in the editor.
    return text.replace(/__(\w+)__/g, (m, name: string) => (vars && name in vars ? String(vars[name]) : m));
  };
  const registered = new Map<string, Record<string, unknown>>();
  const RED = makeRed(registered, message);
  const $ = emptyJquery();
  const sandbox = vm.createContext({ RED, $, jQuery: $, window: {}, document: stub(), console: { log() {}, warn() {}, error() {} } });
  for (const script of scripts(html)) {
    try {
      vm.runInContext(script, sandbox, { filename: htmlFile, timeout: 1000 });
    } catch {
      // An editor script that needs a real browser at load time: fall back to contract rules only.
    }
  }
  const def = registered.get(type);
  if (!def) return null;
  const defaults: Record<string, FieldDef> = {};
  for (const [field, raw] of Object.entries(asRecord(def.defaults))) {
    const spec = asRecord(raw);
    defaults[field] = {
      value: spec.value,
      required: spec.required === true,
      type: typeof spec.type === "string" ? spec.type : undefined,
      validate: typeof spec.validate === "function" ? (spec.validate as EditorValidator) : undefined,
    };
  }
  const credentials: Record<string, string> = {};
  for (const [field, raw] of Object.entries(asRecord(def.credentials))) credentials[field] = String(asRecord(raw).type ?? "text");
  return { type, category: typeof def.category === "string" ? def.category : undefined, defaults, credentials, message };
}

/** Bodies of the <script type="text/javascript"> blocks (the form and help blocks are text/html). */
function scripts(html: string): string[] {
  const out: string[] = [];
  const re = /<script\b([^>]*)>([\s\S]*?)<\/script>/gi;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    const [, attributes = "", body = ""] = m;
    const type = /type\s*=\s*["']([^"']+)["']/i.exec(attributes)?.[1] ?? "text/javascript";
    if (/javascript/i.test(type)) out.push(body);
  }
  return out;
}

/** A stand-in for RED with the validators Node-RED's editor provides (same semantics, blank handling included). */
function makeRed(registered: Map<string, Record<string, unknown>>, message: NodeTypeDef["message"]): unknown {
  const blank = (v: unknown): boolean => v === "" || v === undefined || v === null;
  const red: Record<string, unknown> = {
    nodes: new Proxy({ registerType: (t: string, d: Record<string, unknown>) => registered.set(t, d) }, { get: (o, p) => (p in o ? (o as Record<string | symbol, unknown>)[p] : stub()) }),
    _: (key: string, vars?: Record<string, unknown>) => message(key, vars),
    validators: {
      number: (blankAllowed?: boolean) => (v: unknown) => (blankAllowed && blank(v)) || (!blank(v) && !Number.isNaN(Number(v))),
      regex: (re: RegExp, blankAllowed?: boolean) => (v: unknown) => (blankAllowed && blank(v)) || re.test(String(v ?? "")),
      typedInput: () => () => true,
    },
  };
  return new Proxy(red, { get: (o, p) => (typeof p === "string" && p in o ? o[p] : stub()) });
}

/** Absorbs any property access or call an editor script makes at load time (RED.events, $, ...). */
function stub(): unknown {
  const target = function () {
    /* stub */
  };
  return new Proxy(target, {
    get: (_t, p) => (p === "length" ? 0 : p === Symbol.toPrimitive ? () => "" : p === "then" ? undefined : stub()),
    apply: () => stub(),
    construct: () => stub() as object,
  });
}

/**
 * `$` outside the editor: every selector matches nothing, as in an editor with no dialog open,
 * so validators take their documented fallback (`$("#node-input-x").length ? ... : this.x`).
 */
function emptyJquery(): unknown {
  const traversal = new Set(["find", "parent", "parents", "closest", "children", "filter", "first", "last", "eq", "siblings", "next", "prev", "not", "add"]);
  const set: object = new Proxy(function () {}, {
    get: (_t, p) => {
      if (p === "length") return 0;
      if (p === "then" || typeof p === "symbol") return undefined;
      if (traversal.has(p)) return () => set;
      if (p === "is" || p === "hasClass") return () => false;
      return () => undefined;
    },
  });
  return new Proxy(function () {}, { apply: () => set, get: () => () => undefined });
}

function readCatalog(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return {};
  }
}

function lookup(catalog: unknown, key: string): string | undefined {
  let cur: unknown = catalog;
  for (const part of key.split(".")) cur = asRecord(cur)[part];
  return typeof cur === "string" ? cur : undefined;
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
}
