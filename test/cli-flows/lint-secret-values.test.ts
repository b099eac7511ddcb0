/**
 * `otbridge lint` no-secrets by value (issue 15 item 8): literal credentials in function code,
 * change/inject/template nodes that set password-like properties to literals, http request
 * headers and URLs, in core nodes as well as otb ones; and no finding for references (msg,
 * env, ${VAR}, mustache) or for names that only mention a secret.
 */
import * as assert from "node:assert/strict";
import { lintFlow, loadSettings } from "../../cli/flows/lint";
import type { LintSettings } from "../../cli/flows/lint-types";
import { parseFlow } from "../../cli/flows/flow-file";
import { REPO } from "./cli-run";

const fn = (id: string, func: string): Record<string, unknown> => ({ id, type: "function", z: "t", name: id, func, outputs: 1, x: 1, y: 1, wires: [[]] });
const change = (id: string, rules: unknown[]): Record<string, unknown> => ({ id, type: "change", z: "t", name: id, rules, x: 1, y: 1, wires: [[]] });
const inject = (id: string, extra: Record<string, unknown>): Record<string, unknown> => ({ id, type: "inject", z: "t", name: id, repeat: "", once: false, x: 1, y: 1, wires: [[]], ...extra });
const template = (id: string, text: string): Record<string, unknown> => ({ id, type: "template", z: "t", name: id, field: "payload", fieldType: "msg", format: "text", syntax: "mustache", template: text, output: "str", x: 1, y: 1, wires: [[]] });
const http = (id: string, extra: Record<string, unknown>): Record<string, unknown> => ({ id, type: "http request", z: "t", name: id, method: "GET", ret: "txt", paytoqs: "ignore", url: "https://api.example.com/v1", tls: "", persist: false, proxy: "", insecureHTTPParser: false, authType: "", senderr: false, headers: [], x: 1, y: 1, wires: [[]], ...extra });

const SECRET = [
  fn("f-assign", 'msg.password = "hunter2";\nreturn msg;'),
  fn("f-const", "const apiKey = 'sk_live_51Habc';\nmsg.headers = { 'x-api-key': apiKey };\nreturn msg;"),
  fn("f-object", 'msg.payload = { user: "op", password: "s3cret!" };\nreturn msg;'),
  fn("f-quoted-key", 'msg.auth = { "client_secret": "abc123def" };\nreturn msg;'),
  fn("f-bracket", "msg['db_password'] = `pa55`;\nreturn msg;"),
  fn("f-camel", 'const dbPassword = "pa55word";\nreturn msg;'),
  fn("f-token", 'node.accessToken = "ya29.a0AfH6SMB";\nreturn msg;'),
  fn("f-compare", 'if (msg.payload.password === "letmein") return msg;'),
  fn("f-auth-header", 'msg.headers = { Authorization: "Basic dXNlcjpwYXNzd29yZA==" };\nreturn msg;'),
  fn("f-set-header", 'msg.headers = {};\nmsg.headers["Authorization"] = "Bearer 0123456789abcdef";\nreturn msg;'),
  fn("f-url", 'msg.url = "https://admin:pw123@historian.local/api";\nreturn msg;'),
  fn("f-pem", 'const key = `-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----`;\nreturn msg;'),
  { ...fn("f-init", "return msg;"), initialize: 'context.set("secret", "topsecret-value");\nflow.set("token", "abc");\nconst token = "init-token-1";' },
  change("c-set", [{ t: "set", p: "password", pt: "msg", to: "hunter2", tot: "str" }]),
  change("c-nested", [{ t: "set", p: "payload.credentials.apiKey", pt: "msg", to: "k-123456", tot: "str" }]),
  change("c-flow", [{ t: "set", p: "mqttToken", pt: "flow", to: "tok-1", tot: "str" }]),
  change("c-header", [{ t: "set", p: "headers.Authorization", pt: "msg", to: "Bearer abcdef0123", tot: "str" }]),
  change("c-json", [{ t: "set", p: "payload", pt: "msg", to: '{"user":"op","password":"pw1"}', tot: "json" }]),
  change("c-num", [{ t: "set", p: "pin", pt: "msg", to: "17", tot: "str" }, { t: "set", p: "passcode", pt: "msg", to: "1234", tot: "num" }]),
  inject("i-prop", { props: [{ p: "payload" }, { p: "password", v: "hunter2", vt: "str" }], payload: "", payloadType: "date" }),
  inject("i-legacy-json", { props: [{ p: "payload" }], payload: '{"apiKey":"abc123"}', payloadType: "json" }),
  template("t-yaml", "host: historian\nuser: op\npassword: \"s3cret\"\n"),
  template("t-json", '{"token": "tkn-00001", "value": {{payload}}}'),
  { ...template("t-field", "hunter2"), field: "password" },
  http("h-url", { url: "http://user:pass@10.0.0.5/api" }),
  { id: "x-curl", type: "exec", z: "t", name: "curl", command: "curl -u admin:s3cret http://historian/api", addpay: "", append: "", useSpawn: "false", timer: "", winHide: false, oldrc: false, x: 1, y: 1, wires: [[], [], []] },
  { id: "x-flag", type: "exec", z: "t", name: "cli", command: "influx write --token Zm9vYmFy --bucket b", addpay: "", append: "", useSpawn: "false", timer: "", winHide: false, oldrc: false, x: 1, y: 1, wires: [[], [], []] },
  http("h-header", { headers: [{ keyType: "other", keyValue: "Authorization", valueType: "other", valueValue: "Basic dXNlcjpwYXNz" }] }),
  http("h-apikey", { headers: [{ keyType: "other", keyValue: "X-API-Key", valueType: "other", valueValue: "abcdef123456" }] }),
];

const CLEAN = [
  fn("ok-ref", "msg.password = msg.payload.password;\nmsg.token = env.get('OTB_TOKEN');\nreturn msg;"),
  fn("ok-empty", 'let password = "";\nconst passwordField = "password";\nconst tokenCount = "5";\nreturn msg;'),
  fn("ok-header-concat", 'msg.headers = { Authorization: "Bearer " + env.get("TOKEN") };\nmsg.headers.authorization = `Bearer ${flow.get("t")}`;\nreturn msg;'),
  fn("ok-label", 'node.status({ text: "password rejected" });\nconst type = "password";\nif (msg.password !== undefined) msg.ok = true;\nreturn msg;'),
  fn("ok-token-url", 'const tokenUrl = "https://auth.example.com/token";\nconst secretName = "db";\nreturn msg;'),
  change("ok-c-env", [{ t: "set", p: "password", pt: "msg", to: "DB_PASSWORD", tot: "env" }, { t: "set", p: "token", pt: "msg", to: "payload.token", tot: "msg" }, { t: "delete", p: "password", pt: "msg" }]),
  change("ok-c-other", [{ t: "set", p: "topic", pt: "msg", to: "a/b", tot: "str" }, { t: "set", p: "payload", pt: "msg", to: '{"user":"op"}', tot: "json" }]),
  inject("ok-i", { props: [{ p: "payload" }, { p: "token", v: "TOKEN", vt: "env" }, { p: "password", v: "${DB_PASSWORD}", vt: "str" }], payload: "", payloadType: "date" }),
  template("ok-t", "password: {{password}}\ntoken: {{{flow.token}}}\n"),
  { ...template("ok-t-field", "{{payload.password}}"), field: "password" },
  { id: "ok-x", type: "exec", z: "t", name: "env", command: "influx write --token $INFLUX_TOKEN --bucket b; curl -u \"$U:$P\" http://h/", addpay: "", append: "", useSpawn: "false", timer: "", winHide: false, oldrc: false, x: 1, y: 1, wires: [[], [], []] },
  http("ok-h", { url: "https://{{host}}/api", headers: [{ keyType: "other", keyValue: "Authorization", valueType: "msg", valueValue: "token" }] }),
];

describe("otbridge lint: secrets by value, in core nodes too", () => {
  let settings: LintSettings;
  before(() => {
    settings = loadSettings(REPO, undefined);
  });
  const lint = (nodes: unknown[]): Array<{ node: string; rule: string; message: string }> =>
    lintFlow(parseFlow(JSON.stringify([{ id: "t", type: "tab", label: "t" }, ...nodes]), "inline.json"), settings).filter((f) => f.rule === "no-secrets");

  for (const node of SECRET) {
    it(`flags ${String(node.id)}`, () => {
      const found = lint([node]);
      assert.ok(found.length >= 1, `no finding for ${JSON.stringify(node)}`);
      for (const f of found) {
        assert.equal(f.node, node.id);
        assert.match(f.message, /keep secrets in Node-RED credentials/);
      }
    });
  }

  it("flags nothing on references, empty values, labels and mustache fields", () => {
    assert.deepEqual(lint(CLEAN).map((f) => `${f.node}: ${f.message}`), []);
  });

  it("says what it found and where", () => {
    const [f] = lint([change("c", [{ t: "set", p: "password", pt: "msg", to: "hunter2", tot: "str" }])]);
    assert.match(f.message, /^rules\[0\] holds password set to a literal/);
    const [g] = lint([fn("f", 'msg.password = "hunter2";')]);
    assert.match(g.message, /^func holds a literal password in code/);
  });
});
