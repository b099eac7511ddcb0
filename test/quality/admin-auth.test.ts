/**
 * In a real Node-RED (child process, pack loaded through the registry, adminAuth on): the quality
 * counters endpoint refuses anonymous requests and answers a logged-in admin, and a Signal
 * injected at start has gone through otb-validate and otb-context.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { QualitySummary } from "../../nodes/otb-validate/counters";
import { startRuntime, type AdminSession } from "../helpers/admin";
import { waitFor } from "../helpers/peers";
import { ruleFor } from "./streams";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const bcrypt = require("bcryptjs") as { hashSync(password: string, rounds: number): string };

const SIGNALS = JSON.stringify([
  { tag: "p", value: 50, ts: Date.UTC(2026, 5, 10, 8), quality: "good", source: { protocol: "sim", address: "x" } },
  { tag: "p", value: 150, ts: Date.UTC(2026, 5, 10, 8, 1), quality: "good", source: { protocol: "sim", address: "x" } },
]);

const FLOW = [
  { id: "tab1", type: "tab", label: "quality" },
  { id: "cfg-line", type: "otb-line", enterprise: "acme", site: "plant1", area: "pumps", line: "line1", timeZone: "Europe/Berlin", shifts: [] },
  { id: "inj", z: "tab1", type: "inject", props: [{ p: "payload" }], repeat: "", once: true, onceDelay: "0.5", payload: SIGNALS, payloadType: "json", wires: [["v1"]] },
  { id: "v1", z: "tab1", type: "otb-validate", rulesFrom: "table", rules: [ruleFor("p")], unknownTags: "pass", maxStringLength: "1024", summaryInterval: "0", warnBelowPct: "95", wires: [["c1"], [], []] },
  { id: "c1", z: "tab1", type: "otb-context", line: "cfg-line", modeSource: "none", contextTopic: "context", persist: true, wires: [[], []] },
];

describe("otb-validate admin endpoint in a real Node-RED with adminAuth", function () {
  this.timeout(30_000);
  let red: AdminSession | null = null;
  let dir = "";

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-quality-flow-"));
    const flowFile = path.join(dir, "flows.json");
    fs.writeFileSync(flowFile, JSON.stringify(FLOW, null, 2));
    red = await startRuntime({ flowTemplate: flowFile, env: { OTB_ADMIN_USER: "admin", OTB_ADMIN_PASSWORD_HASH: bcrypt.hashSync("s3cret", 8) } });
  });

  after(async () => {
    await red?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses anonymous requests and serves a logged-in admin", async () => {
    const anonymous = await red!.get("/otb-validate/v1/quality");
    assert.equal(anonymous.status, 401);
    const token = await red!.post<{ access_token: string }>("/auth/token", { client_id: "node-red-admin", grant_type: "password", scope: "*", username: "admin", password: "s3cret" });
    assert.equal(token.status, 200, JSON.stringify(token.body));
    const auth = { Authorization: `Bearer ${token.body.access_token}` };
    let summary: QualitySummary | null = null;
    await waitFor(async () => {
      const res = await fetch(`${red!.url}/otb-validate/v1/quality`, { headers: auth });
      if (res.status !== 200) return false;
      summary = (await res.json()) as QualitySummary;
      return summary.totals.in === 2;
    }, 10_000, "the injected batch to be counted");
    assert.deepEqual([summary!.totals.good, summary!.totals.bad], [1, 1]);
    assert.equal(red!.log.filter((l) => /\[error\]/.test(l)).length, 0, red!.log.join("\n"));
    const ctxFile = path.join(red!.userDir, "otbridge", "context");
    assert.ok(!fs.existsSync(ctxFile) || fs.readdirSync(ctxFile).length === 0, "no context message, nothing persisted");
  });
});
