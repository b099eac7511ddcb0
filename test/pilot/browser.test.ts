/**
 * End to end in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core; nothing
 * is downloaded): the editor shows every otb node in the palette and the pilot tab with no
 * invalid or unknown nodes, an otb node's edit form opens, and the dashboard's charts move while
 * the simulator runs. Screenshots go to test-results/pilot/ (git-ignored).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { chromium, type Browser, type Page } from "playwright-core";
import { REPO_ROOT } from "../../cli/node-red-runner";
import { delay } from "../helpers/peers";
import { startTestPilot, type TestPilot } from "./harness";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = path.join(REPO_ROOT, "test-results", "pilot");
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const otbTypes = Object.keys((JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { "node-red": { nodes: Record<string, string> } })["node-red"].nodes);
const pilotFlow = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "flows", "single-line-pilot.json"), "utf8")) as Array<{ id: string; type: string; name?: string; label?: string }>;

const describeWithChromium = fs.existsSync(CHROMIUM) ? describe : describe.skip;

describeWithChromium("single-line pilot in the browser (headless Chromium)", function () {
  this.timeout(120_000);
  let pilot: TestPilot;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    pilot = await startTestPilot({ scenario: "normal", seed: 1, speed: 10, minutesBack: 30 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on("pageerror", (err) => pageErrors.push(err.message));
  });
  after(async () => {
    await browser?.close();
    await pilot?.stop();
  });

  it("the editor shows every otb node in the palette and the pilot tab with no invalid or unknown nodes", async () => {
    await page.goto(`${pilot.red.url}/`);
    await page.waitForSelector("#red-ui-palette .red-ui-palette-node", { timeout: 30_000 });
    await page.waitForFunction(() => (window as unknown as { RED?: { nodes?: { version?: () => unknown } } }).RED?.nodes?.version?.() !== undefined, undefined, { timeout: 30_000 });
    const flowTypes = otbTypes.filter((t) => !["otb-line", "otb-opcua-endpoint", "otb-modbus-device", "otb-conduit"].includes(t));
    for (const t of flowTypes) {
      assert.equal(await page.locator(`#red-ui-palette .red-ui-palette-node[data-palette-type="${t}"]`).count(), 1, `${t} in the palette`);
    }
    const tab = pilotFlow.find((n) => n.type === "tab")!;
    await page.locator(`#red-ui-tab-${tab.id}`).waitFor({ timeout: 10_000 });
    assert.match(await page.locator(`#red-ui-tab-${tab.id}`).innerText(), /Line pilot/);
    const problems = await page.evaluate(() => {
      type EditorNode = { id: string; type: string; name?: string; valid?: boolean; validationErrors?: string[] };
      const RED = (window as unknown as { RED: { nodes: { eachNode(cb: (n: EditorNode) => void): void; eachConfig(cb: (n: EditorNode) => void): void; getType(t: string): unknown } } }).RED;
      const out: string[] = [];
      const check = (n: EditorNode): void => {
        if (n.type === "unknown" || !RED.nodes.getType(n.type)) out.push(`${n.type} ${n.id}: unknown type`);
        else if (n.valid === false) out.push(`${n.type} ${n.name ?? n.id}: invalid ${(n.validationErrors ?? []).join(", ")}`);
      };
      RED.nodes.eachNode(check);
      RED.nodes.eachConfig((n) => {
        if (!["tab", "subflow", "group"].includes(n.type)) check(n);
      });
      return out;
    });
    assert.deepEqual(problems, []);
    // Zoomed out, the whole pilot fits the screenshot.
    await page.evaluate(() => {
      const RED = (window as unknown as { RED: { actions: { invoke(name: string): void } } }).RED;
      RED.actions.invoke("core:zoom-out");
      RED.actions.invoke("core:zoom-out");
    });
    await page.screenshot({ path: path.join(SHOTS, "01-editor-pilot-tab.png") });
  });

  it("opens an otb node's edit form (otb-window) with its fields filled in", async () => {
    const window = pilotFlow.find((n) => n.type === "otb-window")!;
    await page.locator(`[id="${window.id}"] .red-ui-flow-node`).first().dblclick();
    await page.waitForSelector("#node-input-windowName", { state: "visible", timeout: 10_000 });
    assert.equal(await page.inputValue("#node-input-windowName"), "pump1");
    await page.screenshot({ path: path.join(SHOTS, "02-otb-window-form.png") });
    await page.click("#node-dialog-cancel");
    await page.waitForSelector("#node-input-windowName", { state: "detached", timeout: 10_000 });
  });

  it("opens the dashboard and sees the trends, the anomaly chart and the line context update", async () => {
    const dash = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
    dash.on("pageerror", (err) => pageErrors.push(`dashboard: ${err.message}`));
    try {
      await dash.goto(`${pilot.red.url}/dashboard/line`);
      const charts = dash.locator(".nrdb-ui-widget.nrdb-ui-chart");
      await charts.first().waitFor({ timeout: 30_000 });
      assert.equal(await charts.count(), 2, "trend chart and anomaly chart");
      // The context texts fill in once the PLC's product and batch arrive.
      await dash.waitForFunction(() => /B\d{3,}/.test(document.body.innerText), undefined, { timeout: 30_000 });
      const before = await Promise.all([0, 1].map((i) => charts.nth(i).screenshot()));
      await delay(6000);
      const after = await Promise.all([0, 1].map((i) => charts.nth(i).screenshot()));
      assert.ok(!before[0].equals(after[0]), "the trend chart changed in 6 s");
      assert.ok(!before[1].equals(after[1]), "the anomaly chart changed in 6 s");
      await dash.screenshot({ path: path.join(SHOTS, "03-dashboard.png"), fullPage: true });
    } finally {
      await dash.close();
    }
  });

  it("raised no uncaught error in the editor or the dashboard", () => {
    assert.deepEqual(pageErrors, []);
  });
});
