/**
 * Secrets found by value, not by the name of the field that holds them (issue 15 item 8): a
 * password assigned in a function node's code, a change rule or inject property that sets
 * `msg.password` to a literal, an Authorization header with a literal credential, JSON text
 * with a password key. secrets.ts applies these to every node, core nodes included.
 */

/** A name that holds a credential: its last word is one of these (apiKey, db_password, clientSecret...). */
const SECRET_NAME = /(?:^|[^A-Za-z0-9]|[a-z0-9](?=[A-Z]))(pass(?:word|wd|phrase|code)?|pwd|secret|token|api_?key|apikey|access_?key|private_?key|credentials?|auth_?key)$/i;
/** Names that merely mention a secret: a count, a field name, a URL to fetch a token from. */
const NOT_SECRET_NAME = /(count|length|len|type|name|field|prop|property|key_?path|url|uri|endpoint|expiry|expires|ttl|timeout|file|path|dir|env|hint|label|placeholder|id)$/i;
/** `name = "literal"`, `name: 'literal'`, `"name": "literal"`, `['name'] = "literal"`, `name === "literal"`. */
const ASSIGNMENT = /([A-Za-z_$][\w$]*|["'][^"'\n]{1,60}["'])\s*\]?\s*(?::|={1,3}(?!>))\s*(["'`])((?:(?!\2)[^\\\n]|\\.){1,500})\2/g;
/** A credential in an Authorization-style header: name and value as a pair of literals. */
const AUTH_HEADER = /["'`]?(authorization|proxy-authorization|x-api-key|api-key|x-auth-token)["'`]?\]?\s*[:,=]\s*(["'`])((?:(?!\2)[^\\\n]|\\.){4,500})\2/gi;
/** Command-line credentials (exec nodes, scripts): --password=x, --token x, curl -u user:pass. */
const CLI_FLAG = /(?:^|\s)(?:--(password|passwd|token|api-key|apikey|secret|client-secret)[= ]([^\s$"'`][^\s"'`]*)|(-u|--user)\s+([^\s:$"'`]+:[^\s$"'`]+))/i;
const ENV_OR_TEMPLATE = /^\$\{[^}]+\}$|^\{\{[^}]+\}\}$|^\$env\(/;

export function isSecretName(name: string): boolean {
  const bare = name.replace(/^["']|["']$/g, "").split(/[.[\]]/).filter(Boolean).pop() ?? "";
  return SECRET_NAME.test(bare) && !NOT_SECRET_NAME.test(bare);
}

/** A literal that a secret could be: not empty, not a placeholder for an env var or a mustache field. */
export function isSecretLiteral(value: unknown): boolean {
  if (typeof value === "number") return true;
  if (typeof value !== "string") return false;
  const v = value.trim();
  return v.length > 0 && !ENV_OR_TEMPLATE.test(v) && !/^\$\{[^}]+\}$/.test(v);
}

/** What secret a piece of code or template text assigns to a literal, or null. */
export function secretInCode(code: string): string | null {
  for (const [, header, , value = ""] of code.matchAll(AUTH_HEADER)) {
    if (isSecretLiteral(value) && /\S+\s+\S{4,}|^[A-Za-z0-9+/=._~-]{12,}$/.test(value.trim()) && !/\$\{|\+\s*$/.test(value)) return `a literal ${header} header`;
  }
  const flag = CLI_FLAG.exec(code);
  if (flag) return `a literal ${flag[1] ? `--${flag[1]}` : `${flag[3]} user:password`} on a command line`;
  for (const [, name = "", , value = ""] of code.matchAll(ASSIGNMENT)) {
    if (isSecretName(name) && isSecretLiteral(value) && !value.includes("${")) return `a literal ${name.replace(/["']/g, "")} in code`;
  }
  return null;
}

/** Secret-named keys with literal values anywhere in JSON text (an inject payload, a change rule's JSON). */
export function secretInJson(text: string): string | null {
  const t = text.trim();
  if (!/^[[{]/.test(t)) return null;
  let data: unknown;
  try {
    data = JSON.parse(t);
  } catch {
    return null;
  }
  let found: string | null = null;
  const visit = (v: unknown): void => {
    if (found) return;
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (isSecretName(k) && isSecretLiteral(x)) found = `a literal ${k} in JSON`;
        else if (/^(authorization|x-api-key)$/i.test(k) && isSecretLiteral(x)) found = `a literal ${k} header in JSON`;
        else visit(x);
      }
    }
  };
  visit(data);
  return found;
}

/** Literal value types of change-node rules (`tot`) and inject properties (`vt`); env, msg, flow... are references. */
const LITERAL_TYPES = new Set(["str", "num", "json", "bin", "re", undefined, ""]);

/**
 * Properties set to literals by core nodes: change rules, inject props (and the legacy
 * topic/payload pair), http request headers. Returns [path, what] pairs.
 */
export function secretSettings(node: Record<string, unknown>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const check = (path: string, prop: unknown, value: unknown, type: unknown): void => {
    if (!LITERAL_TYPES.has(type as string)) return;
    if (typeof prop === "string" && (isSecretName(prop) || /(^|\.)headers\.(authorization|x-api-key)$/i.test(prop)) && isSecretLiteral(value)) {
      out.push([path, `${prop} set to a literal`]);
    } else if (typeof value === "string" && type === "json") {
      const what = secretInJson(value);
      if (what) out.push([path, what]);
    }
  };
  if (Array.isArray(node.rules)) {
    node.rules.forEach((r: Record<string, unknown>, i) => {
      if (r && (r.t === "set" || r.t === "change")) check(`rules[${i}]`, r.p, r.to, r.tot);
    });
  }
  if (Array.isArray(node.props)) {
    node.props.forEach((p: Record<string, unknown>, i) => {
      if (!p) return;
      const value = p.p === "payload" && p.v === undefined ? node.payload : p.p === "topic" && p.v === undefined ? node.topic : p.v;
      const type = p.p === "payload" && p.vt === undefined ? node.payloadType : p.vt;
      check(`props[${i}]`, p.p, value, type);
    });
  }
  // A template node writes its text to `field`: a password-named field gets a literal unless the text is all mustache.
  if (node.type === "template" && typeof node.field === "string" && isSecretName(node.field) && typeof node.template === "string") {
    const text = node.template.trim();
    if (isSecretLiteral(text) && !/^(\{\{[^}]*\}\}|\{\{\{[^}]*\}\}\})$/.test(text) && !/^\$\{[^}]+\}$/.test(text)) out.push(["template", `${node.field} set to a literal`]);
  }
  if (Array.isArray(node.headers)) {
    node.headers.forEach((h: Record<string, unknown>, i) => {
      if (!h) return;
      const name = h.keyType === "other" || h.keyType === undefined ? h.keyValue : h.keyType;
      const literal = h.valueType === "other" || h.valueType === undefined;
      if (typeof name === "string" && /^(authorization|proxy-authorization|x-api-key|api-key|x-auth-token)$/i.test(name) && literal && isSecretLiteral(h.valueValue)) {
        out.push([`headers[${i}]`, `a literal ${name} header`]);
      }
    });
  }
  return out;
}
