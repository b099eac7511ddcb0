/**
 * Secret detection for flow JSON. Node-RED keeps credentials outside the flow file, so a secret
 * in flow JSON is always a mistake: an export made "with credentials", a password typed into a
 * plain field, a key pasted into a function node, a change rule or inject property that sets
 * `msg.password` to a literal (values are checked, not only field names: secret-values.ts). Values that are a whole `${ENV_VAR}` reference
 * are fine: Node-RED substitutes them at load time and the flow holds no secret.
 */
import { isObject, type FlowNode } from "./flow-file";
import { editorDef } from "./node-defs";
import { secretInCode, secretInJson, secretSettings } from "./secret-values";

export interface SecretFinding {
  /** Dotted path inside the node, e.g. "credentials.password" or "func". */
  path: string;
  what: string;
}

const SECRET_KEY = /^(pass(word|wd|phrase)?|secret|client_?secret|token|access_?token|auth_?token|bearer|api_?key|apikey|private_?key|key_?pem|keydata|psk)$/i;
const PEM_PRIVATE = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;
const URL_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@"']+:([^\s/@"']+)@/i;
const ENV_REF = /^\$\{[^}]+\}$/;
/** Common bearer-style token shapes: JWTs and well-known provider key prefixes. */
const TOKEN_SHAPES = /\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bxox[abpr]-[A-Za-z0-9-]{10,}/;

/** Every secret-looking value in one node; empty when the node is clean. */
export function findSecrets(node: FlowNode): SecretFinding[] {
  const findings: SecretFinding[] = [];
  const def = editorDef(node.type);
  if (isObject(node.credentials)) {
    for (const [key, value] of Object.entries(node.credentials)) {
      if (isLiteral(value)) findings.push({ path: `credentials.${key}`, what: "a credential (the flow was exported with credentials)" });
    }
  }
  // Fields the node declares as credentials must never appear as plain config.
  for (const key of Object.keys(def?.credentials ?? {})) {
    if (isLiteral(node[key])) findings.push({ path: key, what: `a credential that ${node.type} declares as a credentials field` });
  }
  walk(node, "", (path, key, value) => {
    if (path === "credentials" || path.startsWith("credentials.") || (def && key in def.credentials && path === key)) return;
    if (typeof value !== "string") return;
    if (SECRET_KEY.test(key) && isLiteral(value)) findings.push({ path, what: `a literal ${key}` });
    else {
      // By value too: code (function, template), JSON text, then the shapes of known secrets.
      const what = secretInText(value) ?? secretInCode(value) ?? secretInJson(value);
      if (what) findings.push({ path, what });
    }
  });
  // Core nodes that set a property to a literal: change rules, inject props, http headers.
  for (const [path, what] of secretSettings(node)) if (!findings.some((f) => f.path.startsWith(path))) findings.push({ path, what });
  return findings;
}

/** What kind of secret a string carries (PEM key, URL password, token), or null. */
export function secretInText(value: string): string | null {
  if (PEM_PRIVATE.test(value)) return "a PEM private key";
  if (URL_PASSWORD.test(value)) return "a password inside a URL";
  if (TOKEN_SHAPES.test(value)) return "an access token";
  return null;
}

function isLiteral(value: unknown): boolean {
  if (value === undefined || value === null || value === "" || value === false) return false;
  return !(typeof value === "string" && ENV_REF.test(value.trim()));
}

function walk(value: unknown, path: string, visit: (path: string, key: string, value: unknown) => void): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, `${path}[${i}]`, visit));
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      const p = path ? `${path}.${k}` : k;
      visit(p, k, v);
      walk(v, p, visit);
    }
  }
}
