/**
 * The flow's own defaults for `${VAR}` values, for a review that must say what a flow does as
 * written (issue 15 item 7). Node-RED looks a `${VAR}` up in the node's group(s), its tab (or
 * subflow), the global environment (the `global-config` node's env), then the process
 * environment; only the first three live in the file. A global entry of the pack's form
 * `$env("X") ? $env("X") : "default"` (JSONata) resolves to its default here: this module
 * evaluates the small JSONata subset such entries use (string and number literals, `$env()`,
 * `? :`, `$join([...], sep)`) with every `$env()` unset, and calls anything else unresolved.
 * Every resolved value says it is a default, because the deploy environment may override it.
 */
import type { Flow, FlowNode } from "./flow-file";

export const WHOLE_ENV = /^\$\{([^}]+)\}$/;

export interface Resolved {
  value: string;
  /** "default of ${X} (global env)": present when the value came from the flow's env. */
  note?: string;
  /** Why the value could not be resolved; `value` is then the text as written. */
  unresolved?: string;
}

interface EnvEntry {
  name: string;
  type?: string;
  value?: unknown;
}

export class EnvResolver {
  private readonly global: EnvEntry[] = [];

  constructor(private readonly flow: Flow) {
    for (const n of flow.nodes) if (n.type === "global-config" && Array.isArray(n.env)) this.global.push(...(n.env as EnvEntry[]));
  }

  /** `text` with a whole-value `${VAR}` replaced by the flow's default for `node`. */
  resolve(node: FlowNode, text: string): Resolved {
    const m = WHOLE_ENV.exec(text.trim());
    if (!m) return { value: text };
    const found = this.lookup(node, (m[1] ?? "").trim(), 0);
    if ("reason" in found) return { value: text, unresolved: `${text}: ${found.reason}` };
    return { value: found.value, note: `default of ${text} (${found.scope})` };
  }

  /** A copy of `node` with every whole-value `${VAR}` string (also inside arrays) resolved; the notes and failures found. */
  resolveNode(node: FlowNode): { node: FlowNode; notes: string[]; unresolved: string[] } {
    const notes: string[] = [];
    const unresolved: string[] = [];
    const one = (v: unknown): unknown => {
      if (typeof v !== "string") return v;
      const r = this.resolve(node, v);
      if (r.note) notes.push(`${v} = ${JSON.stringify(r.value)} (${r.note.replace(/^default of \S+ \(/, "").replace(/\)$/, "")} default)`);
      if (r.unresolved) unresolved.push(r.unresolved);
      return r.value;
    };
    const copy: FlowNode = { ...node };
    for (const [k, v] of Object.entries(node)) {
      if (k === "id" || k === "type" || k === "z" || k === "wires") continue;
      copy[k] = Array.isArray(v) ? v.map(one) : one(v);
    }
    return { node: copy, notes: [...new Set(notes)], unresolved: [...new Set(unresolved)] };
  }

  private lookup(node: FlowNode, name: string, depth: number): { value: string; scope: string } | { reason: string } {
    if (depth > 8) return { reason: "env references loop" };
    for (const [entries, scope] of this.scopes(node)) {
      const entry = entries.find((e) => e && e.name === name);
      if (entry) return this.evaluate(node, entry, scope, depth);
    }
    return { reason: "no default in the flow (set by the deploy environment)" };
  }

  /** Group(s) innermost first, then the tab or subflow, then global. */
  private scopes(node: FlowNode): Array<[EnvEntry[], string]> {
    const out: Array<[EnvEntry[], string]> = [];
    const seen = new Set<string>();
    let g = typeof node.g === "string" ? this.flow.byId.get(node.g) : undefined;
    while (g && !seen.has(g.id)) {
      seen.add(g.id);
      if (Array.isArray(g.env)) out.push([g.env as EnvEntry[], `group '${String(g.name || g.id)}' env`]);
      g = typeof g.g === "string" ? this.flow.byId.get(g.g) : undefined;
    }
    const tab = typeof node.z === "string" ? this.flow.byId.get(node.z) : undefined;
    if (tab && Array.isArray(tab.env)) out.push([tab.env as EnvEntry[], `${tab.type === "subflow" ? "subflow" : "tab"} '${String(tab.label || tab.name || tab.id)}' env`]);
    out.push([this.global, "global env"]);
    return out;
  }

  private evaluate(node: FlowNode, e: EnvEntry, scope: string, depth: number): { value: string; scope: string } | { reason: string } {
    const type = e.type ?? "str";
    const raw = e.value;
    switch (type) {
      case "str": case "num": case "bool": case "json":
        return { value: typeof raw === "string" ? raw : JSON.stringify(raw), scope };
      case "env": {
        const inner = this.lookup(node, String(raw), depth + 1);
        return "reason" in inner ? { reason: `${scope} points to \${${String(raw)}}, which has ${inner.reason}` } : inner;
      }
      case "cred":
        return { reason: `${scope} holds it as a credential` };
      case "jsonata": {
        const v = evalJsonata(String(raw ?? ""));
        if (v === undefined) return { reason: `${scope} computes it with JSONata this review cannot evaluate` };
        if (v === null) return { reason: `${scope} leaves it to the deploy environment (no default)` };
        return { value: v, scope };
      }
      default:
        return { reason: `${scope} sets it from a ${type} value known only at run time` };
    }
  }
}

/**
 * Evaluates the JSONata subset of env defaults with every $env() unset: a string, null when
 * the expression has no default, undefined when it is outside the subset.
 */
export function evalJsonata(text: string): string | null | undefined {
  const p = new MiniJsonata(text);
  try {
    const v = p.expr();
    p.end();
    if (v === undefined || v === null || v === "") return v === "" ? "" : null;
    return typeof v === "string" ? v : JSON.stringify(v);
  } catch {
    return undefined;
  }
}

type Val = string | number | boolean | null | undefined | Val[];

class MiniJsonata {
  private i = 0;
  constructor(private readonly s: string) {}

  expr(): Val {
    const cond = this.primary();
    if (!this.eat("?")) return cond;
    const a = this.expr();
    this.need(":");
    const b = this.expr();
    return truthy(cond) ? a : b;
  }

  end(): void {
    this.ws();
    if (this.i < this.s.length) throw new Error("trailing text");
  }

  private primary(): Val {
    this.ws();
    const c = this.s[this.i];
    if (c === '"' || c === "'") return this.string();
    if (c === "[") {
      this.i++;
      const items: Val[] = [];
      if (!this.eat("]")) {
        do items.push(this.expr());
        while (this.eat(","));
        this.need("]");
      }
      return items;
    }
    const num = /^-?\d+(\.\d+)?/.exec(this.s.slice(this.i));
    if (num) {
      this.i += num[0].length;
      return Number(num[0]);
    }
    const fn = /^\$(env|join|string)\s*\(/.exec(this.s.slice(this.i));
    if (!fn) throw new Error("outside the subset");
    this.i += fn[0].length;
    const args: Val[] = [];
    if (!this.eat(")")) {
      do args.push(this.expr());
      while (this.eat(","));
      this.need(")");
    }
    if (fn[1] === "env") return undefined; // the deploy environment: unknown here, so the default applies
    if (fn[1] === "string") return args[0] === undefined || args[0] === null ? "" : String(args[0]);
    if (!Array.isArray(args[0]) || args[0].some((x) => typeof x !== "string")) throw new Error("$join of unknowns");
    return (args[0] as string[]).join(typeof args[1] === "string" ? args[1] : "");
  }

  private string(): string {
    const q = this.s[this.i++];
    let out = "";
    while (this.i < this.s.length && this.s[this.i] !== q) {
      if (this.s[this.i] === "\\") this.i++;
      out += this.s[this.i++];
    }
    if (this.s[this.i] !== q) throw new Error("unterminated string");
    this.i++;
    return out;
  }

  private ws(): void {
    while (/\s/.test(this.s[this.i] ?? "")) this.i++;
  }

  private eat(tok: string): boolean {
    this.ws();
    if (this.s.startsWith(tok, this.i)) {
      this.i += tok.length;
      return true;
    }
    return false;
  }

  private need(tok: string): void {
    if (!this.eat(tok)) throw new Error(`expected ${tok}`);
  }
}

function truthy(v: Val): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return !!v;
}

