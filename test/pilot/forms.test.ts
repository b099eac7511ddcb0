/**
 * Every otb edit form of the pilot, in headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core, as browser.test.ts): opened and closed with Done and no change, the flow the
 * editor would deploy is the flow the server holds, field by field (issue 16: a form blanked a
 * `${OTB_MODBUS_PORT}`); no form label overflows its box (issue 20: "Max registers/reque");
 * no select shows blank for a `${ENV}` or omitted value. Screenshots of four forms at 1600x1000
 * go to test-results/forms/ (git-ignored).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { chromium, type Browser, type Page } from "playwright-core";
import { REPO_ROOT } from "../../cli/node-red-runner";
import { startTestPilot, type TestPilot } from "./harness";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = path.join(REPO_ROOT, "test-results", "forms");
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const otbTypes = Object.keys((JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { "node-red": { nodes: Record<string, string> } })["node-red"].nodes);
const SCREENSHOT_TYPES = ["otb-modbus-in", "otb-modbus-device", "otb-infer", "otb-conduit"];

type FlowNode = Record<string, unknown> & { id: string; type: string };

/**
 * Fields the editor's export may differ in without a form having changed anything. Each entry is
 * Node-RED's own bookkeeping, not a node property; nothing else may differ.
 */
const BOOKKEEPING = new Set<string>([]);

interface FormReport {
  id: string;
  type: string;
  /** Labels whose text is wider than their box: `text (scrollWidth > clientWidth)`. */
  overflowing: string[];
  /** Visible selects with no option selected. */
  blankSelects: string[];
}

function diffNodes(before: FlowNode[], after: FlowNode[]): string[] {
  const out: string[] = [];
  const byId = new Map(after.map((n) => [n.id, n]));
  for (const b of before) {
    const a = byId.get(b.id);
    if (!a) {
      out.push(`${b.type} ${b.id}: missing after the edits`);
      continue;
    }
    const keys = new Set([...Object.keys(b), ...Object.keys(a)]);
    for (const k of keys) {
      if (BOOKKEEPING.has(k)) continue;
      if (JSON.stringify(b[k]) !== JSON.stringify(a[k])) out.push(`${b.type} ${b.id}.${k}: ${JSON.stringify(b[k])} -> ${JSON.stringify(a[k])}`);
    }
  }
  return out;
}

const describeWithChromium = fs.existsSync(CHROMIUM) ? describe : describe.skip;

describeWithChromium("otb edit forms in the browser (headless Chromium)", function () {
  this.timeout(180_000);
  let pilot: TestPilot;
  let browser: Browser;
  let page: Page;
  let serverFlow: FlowNode[];
  const pageErrors: string[] = [];
  const reports: FormReport[] = [];

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    pilot = await startTestPilot({ scenario: "normal", seed: 1, speed: 1 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on("pageerror", (err) => pageErrors.push(err.message));
    const res = await fetch(`${pilot.red.url}/flows`, { headers: { "Node-RED-API-Version": "v1" } });
    serverFlow = (await res.json()) as FlowNode[];
    await page.goto(`${pilot.red.url}/`);
    await page.waitForFunction(() => (window as unknown as { RED?: { nodes?: { version?: () => unknown } } }).RED?.nodes?.version?.() !== undefined, undefined, { timeout: 60_000 });
    await page.waitForSelector("#red-ui-palette .red-ui-palette-node", { timeout: 60_000 });
  });
  after(async () => {
    await browser?.close();
    await pilot?.stop();
  });

  /** Opens the node's form, measures it, optionally screenshots it, and presses Done. */
  async function openAndDone(id: string, type: string, config: boolean): Promise<FormReport> {
    await page.evaluate(({ id, type, config }) => {
      const RED = (window as unknown as { RED: { nodes: { node(id: string): unknown }; editor: { edit(n: unknown): void; editConfig(name: string, type: string, id: string): void } } }).RED;
      if (config) RED.editor.editConfig("", type, id);
      else RED.editor.edit(RED.nodes.node(id));
    }, { id, type, config });
    const ok = config ? "#node-config-dialog-ok" : "#node-dialog-ok";
    const form = config ? "#node-config-dialog-edit-form" : "#dialog-form";
    await page.waitForSelector(`${form} .form-row`, { state: "visible", timeout: 20_000 });
    // The tray slides in and oneditprepare may fill lists after a tick: wait until the layout is still.
    await page.waitForFunction((f) => {
      const w = window as unknown as { __otbLast?: string; __otbStill?: number };
      const el = document.querySelector(f);
      const r = el?.getBoundingClientRect();
      const sig = r ? `${r.left},${r.width},${el!.scrollHeight}` : "";
      w.__otbStill = sig !== "" && sig === w.__otbLast ? (w.__otbStill ?? 0) + 1 : 0;
      w.__otbLast = sig;
      return w.__otbStill >= 3;
    }, form, { polling: 200, timeout: 20_000 });
    const report = await page.evaluate(({ form, id, type }) => {
      const visible = (e: Element): boolean => (e as HTMLElement).offsetParent !== null;
      const overflowing = Array.from(document.querySelectorAll(`${form} .form-row label`))
        .filter(visible)
        .filter((l) => l.scrollWidth > l.clientWidth)
        .map((l) => `${(l.textContent ?? "").trim()} (${l.scrollWidth} > ${l.clientWidth})`);
      const blankSelects = Array.from(document.querySelectorAll(`${form} select`))
        .filter(visible)
        .filter((s) => (s as HTMLSelectElement).selectedIndex < 0 || (s as HTMLSelectElement).value === "" && ((s as HTMLSelectElement).selectedOptions[0]?.textContent ?? "").trim() === "")
        .map((s) => s.id || s.className);
      return { id, type, overflowing, blankSelects };
    }, { form, id, type });
    if (SCREENSHOT_TYPES.includes(type)) await page.screenshot({ path: path.join(SHOTS, `${type}.png`) });
    await page.click(ok);
    await page.waitForSelector(form, { state: "detached", timeout: 20_000 });
    return report;
  }

  it("opens and closes with Done every otb node's and config node's form of the pilot, and the flow is unchanged field by field", async () => {
    const otbNodes = serverFlow.filter((n) => otbTypes.includes(n.type));
    assert.ok(otbNodes.length >= 15, `pilot has ${otbNodes.length} otb nodes`);
    const configTypes = new Set(["otb-line", "otb-opcua-endpoint", "otb-modbus-device", "otb-conduit"]);
    for (const n of otbNodes) reports.push(await openAndDone(n.id, n.type, configTypes.has(n.type)));
    const exported = (await page.evaluate(() => (window as unknown as { RED: { nodes: { createCompleteNodeSet(o: unknown): unknown[] } } }).RED.nodes.createCompleteNodeSet({ credentials: false }))) as FlowNode[];
    const dirty = await page.evaluate(() => (window as unknown as { RED: { nodes: { dirty(): boolean } } }).RED.nodes.dirty());
    assert.deepEqual(diffNodes(serverFlow.filter((n) => otbTypes.includes(n.type)), exported), []);
    assert.equal(dirty, false, "pressing Done without a change leaves the workspace clean (nothing to deploy)");
  });

  it("opens the forms of otb nodes the pilot lacks, with their defaults", async () => {
    const present = new Set(reports.map((r) => r.type));
    const missing = otbTypes.filter((t) => !present.has(t));
    for (const type of missing) {
      const id = await page.evaluate((type) => {
        type R = { nodes: { id(): string }; workspaces: { active(): string }; view: { importNodes(n: unknown[], o: unknown): void } };
        const RED = (window as unknown as { RED: R }).RED;
        const id = RED.nodes.id();
        RED.view.importNodes([{ id, type, z: RED.workspaces.active(), x: 300, y: 500, wires: [] }], { applyNodeDefaults: true, generateIds: false, addFlow: false, touchImport: true });
        return id;
      }, type);
      // An import may leave the new node attached to the mouse: drop it.
      await page.mouse.click(400, 600);
      reports.push(await openAndDone(id, type, false));
    }
    assert.deepEqual(otbTypes.filter((t) => !reports.some((r) => r.type === t)), []);
  });

  it("no otb form label overflows its box", () => {
    assert.deepEqual(reports.filter((r) => r.overflowing.length > 0).map((r) => `${r.type}: ${r.overflowing.join("; ")}`), []);
  });

  it("no otb form shows a blank select (a ${ENV} or omitted value is shown)", () => {
    assert.deepEqual(reports.filter((r) => r.blankSelects.length > 0).map((r) => `${r.type}: ${r.blankSelects.join(", ")}`), []);
  });

  it("raised no uncaught error in the editor", () => {
    assert.deepEqual(pageErrors, []);
  });
});
