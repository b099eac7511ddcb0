/**
 * Example 11 in a real Node-RED with FlowFuse Dashboard 2, in headless Chromium (Debian's
 * chromium, nothing downloaded): the editor opens otb-oee's and otb-spc's forms with no invalid
 * node, and the Outcomes page shows OEE, the waterfall, the Pareto, the control chart,
 * violations and capability after the injects fire. Screenshots: test-results/outcomes/.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { chromium, type Browser, type Page } from "playwright-core";
import { REPO_ROOT } from "../../cli/node-red-runner";
import { startRuntime, type AdminSession } from "../helpers/admin";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = path.join(REPO_ROOT, "test-results", "outcomes");
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const FLOW = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "examples", "12 - Outcomes dashboard.json"), "utf8")) as Array<{ id: string; type: string }>;
const describeWithChromium = fs.existsSync(CHROMIUM) ? describe : describe.skip;

describeWithChromium("Outcomes dashboard (example 11) in the browser", function () {
  this.timeout(400_000);
  let red: AdminSession;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    red = await startRuntime();
    const res = await red.post("/flows", FLOW, { "Node-RED-Deployment-Type": "full" });
    assert.ok(res.status === 200 || res.status === 204, JSON.stringify(res.body));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage({ viewport: { width: 1600, height: 1100 } });
    page.setDefaultTimeout(120_000);
    page.setDefaultNavigationTimeout(120_000);
    page.on("pageerror", (err) => pageErrors.push(err.message));
  });
  after(async () => {
    await browser?.close();
    await red?.stop();
  });

  it("the editor opens otb-oee's and otb-spc's forms, and no node of the example is invalid", async () => {
    await page.goto(`${red.url}/`);
    await page.waitForFunction(() => (window as unknown as { RED?: { nodes?: { version?: () => unknown } } }).RED?.nodes?.version?.() !== undefined, undefined, { timeout: 120_000 });
    await page.locator(".red-ui-tab", { hasText: "11 Outcomes dashboard" }).first().waitFor({ timeout: 90_000 });
    const problems = await page.evaluate(() => {
      type N = { id: string; type: string; valid?: boolean; validationErrors?: string[] };
      const RED = (window as unknown as { RED: { nodes: { eachNode(cb: (n: N) => void): void; eachConfig(cb: (n: N) => void): void; getType(t: string): unknown } } }).RED;
      const out: string[] = [];
      const check = (n: N): void => {
        if (!RED.nodes.getType(n.type)) out.push(`${n.type} ${n.id}: unknown`);
        else if (n.valid === false) out.push(`${n.type} ${n.id}: invalid ${(n.validationErrors ?? []).join(", ")}`);
      };
      RED.nodes.eachNode(check);
      RED.nodes.eachConfig((n) => { if (!["tab", "subflow", "group"].includes(n.type)) check(n); });
      return out;
    });
    assert.deepEqual(problems, []);
    for (const [id, field] of [["ex11.oee", "#node-input-idealCycleSec"], ["ex11.spc", "#node-input-baselinePoints"]]) {
      await page.locator(`[id="${id}"] .red-ui-flow-node`).first().dblclick();
      await page.waitForSelector(field, { state: "visible", timeout: 45_000 });
      await page.screenshot({ path: path.join(SHOTS, `form-${id}.png`) });
      await page.locator("#node-dialog-cancel").click();
      await page.waitForSelector(field, { state: "detached", timeout: 45_000 });
    }
  });

  it("the Outcomes page shows OEE, losses, the control chart, violations and capability", async () => {
    for (const id of ["ex11.sim", "ex11.report", "ex11.capreq"]) {
      const r = await red.post(`/inject/${id}`, {});
      assert.equal(r.status, 200, `inject ${id}`);
      await new Promise((res) => setTimeout(res, 1500));
    }
    const dash = await browser.newPage({ viewport: { width: 1600, height: 1400 } });
    dash.setDefaultTimeout(120_000);
    dash.setDefaultNavigationTimeout(120_000);
    dash.on("pageerror", (err) => pageErrors.push(`dashboard: ${err.message}`));
    try {
      await dash.goto(`${red.url}/dashboard/outcomes`);
      await dash.locator(".nrdb-ui-widget.nrdb-ui-chart").first().waitFor({ timeout: 120_000 });
      // Widgets show the last message on connect; re-send the report so the page is filled either way.
      await red.post("/inject/ex11.report", {});
      await red.post("/inject/ex11.capreq", {});
      await dash.waitForFunction(() => /A \d+\.\d % · P \d+\.\d % · Q/.test(document.body.innerText), undefined, { timeout: 120_000 });
      await dash.waitForFunction(() => /Wh per good part/.test(document.body.innerText), undefined, { timeout: 90_000 });
      await dash.waitForFunction(() => /nelson\d/.test(document.body.innerText), undefined, { timeout: 90_000 });
      await dash.waitForFunction(() => /Cpk/.test(document.body.innerText), undefined, { timeout: 90_000 });
      const text = await dash.evaluate(() => document.body.innerText);
      assert.match(text, /Time waterfall/);
      assert.match(text, /Downtime by reason/);
      assert.equal(await dash.locator(".nrdb-ui-widget.nrdb-ui-chart").count(), 3);
      await dash.screenshot({ path: path.join(SHOTS, "outcomes-page.png"), fullPage: true });
    } finally {
      await dash.close();
    }
  });

  it("raised no uncaught error in the editor or the dashboard", () => {
    assert.deepEqual(pageErrors, []);
    assert.ok(!red.log.some((l) => /\[error\]/.test(l)), red.log.filter((l) => /\[error\]/.test(l)).join("\n"));
  });
});
