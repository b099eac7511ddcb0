/**
 * The editor's migration of an otb-mqtt-in saved before otb-mqtt-broker, in headless Chromium
 * (Debian's /usr/bin/chromium through playwright-core, as test/pilot/forms.test.ts) against a
 * real Node-RED: opening the node offers to move its connection settings into a broker node;
 * Done without pressing it changes nothing; pressing it creates the broker node (or uses the
 * matching one) and points the node at it; the flow deploys and is saved that way.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startRuntime, type AdminSession } from "../helpers/admin";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
type FlowNode = Record<string, unknown> & { id: string; type: string };

const legacy = (id: string, url: string, y: number): FlowNode => ({
  id, type: "otb-mqtt-in", z: "t1", name: id, broker: url, clientId: "", protocolVersion: "4", tls: "",
  topics: [{ topic: "a/#", qos: 1 }], format: "json", mapping: [], requestRebirth: false, batchMs: 0, x: 200, y, wires: [[], []],
});

const describeWithChromium = fs.existsSync(CHROMIUM) ? describe : describe.skip;

describeWithChromium("otb-mqtt-in editor: moving a node's own connection into an otb-mqtt-broker (headless Chromium)", function () {
  this.timeout(180_000);
  let red: AdminSession;
  let browser: Browser;
  let page: Page;
  let dir = "";

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-mig-"));
    const flowFile = path.join(dir, "flows.json");
    fs.writeFileSync(flowFile, JSON.stringify([
      { id: "t1", type: "tab", label: "old" },
      legacy("old1", "mqtt://127.0.0.1:1", 100),
      legacy("old2", "mqtt://127.0.0.1:2", 200),
      { id: "m2", type: "otb-mqtt-broker", name: "existing", broker: "mqtt://127.0.0.1:2", clientId: "", protocolVersion: "4", tls: "" },
    ], null, 2));
    red = await startRuntime({ flowTemplate: flowFile });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(`${red.url}/`);
    await page.waitForSelector("#red-ui-palette .red-ui-palette-node", { timeout: 60_000 });
    // The palette comes before the flow: the editor loads node types, then GETs /flows and imports
    // it. RED.nodes.version() is null (not undefined) until then, so waiting on it waited for
    // nothing, and under load RED.editor.edit(RED.nodes.node("old1")) ran on a node not yet there
    // (no dialog, #otb-migrate never shown). Wait for the flow's own nodes in the editor.
    await page.waitForFunction(() => {
      const RED = (window as unknown as { RED?: { nodes?: { node?(id: string): unknown } } }).RED;
      return typeof RED?.nodes?.node === "function" && ["old1", "old2", "m2"].every((id) => !!RED.nodes!.node!(id));
    }, undefined, { timeout: 60_000 });
  });
  after(async () => {
    await browser?.close();
    await red?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function open(id: string): Promise<string> {
    const found = await page.evaluate((id) => {
      const RED = (window as unknown as { RED: { nodes: { node(id: string): unknown }; editor: { edit(n: unknown): void } } }).RED;
      const node = RED.nodes.node(id);
      if (node) RED.editor.edit(node);
      return !!node;
    }, id);
    assert.ok(found, `node ${id} is in the editor`);
    await page.waitForSelector("#otb-migrate", { state: "visible", timeout: 60_000 });
    return (await page.locator("#otb-migrate").textContent()) ?? "";
  }

  async function done(): Promise<void> {
    await page.click("#node-dialog-ok");
    await page.waitForSelector("#node-dialog-ok", { state: "detached", timeout: 60_000 });
  }

  const flow = (): Promise<FlowNode[]> => page.evaluate(() => {
    const RED = (window as unknown as { RED: { nodes: { createCompleteNodeSet(o: unknown): unknown } } }).RED;
    return RED.nodes.createCompleteNodeSet({ credentials: false }) as FlowNode[];
  });

  // The validator of `broker` is generated from the schema's legacyValue (editor-script.ts): Node-RED's
  // own editor must take a legacy URL as valid, a broker node id as valid, and nothing else.
  it("the editor's generated validator: a legacy URL and a broker node are valid, an unknown id is not", async () => {
    const verdicts = await page.evaluate(() => {
      const RED = (window as unknown as { RED: { nodes: { node(id: string): { valid?: boolean } | null; getType(t: string): { defaults: Record<string, { validate(this: unknown, v: unknown): unknown }> } } } }).RED;
      const validate = RED.nodes.getType("otb-mqtt-in").defaults.broker!.validate;
      const node = RED.nodes.node("old1")!;
      return { old1: node.valid, url: validate.call(node, "mqtts://x:8883"), broker: validate.call(node, "m2"), unknown: validate.call(node, "nope1") };
    });
    assert.deepEqual({ ...verdicts, unknown: typeof verdicts.unknown }, { old1: true, url: true, broker: true, unknown: "string" });
    assert.match(String(verdicts.unknown), /^broker must name a valid otb-mqtt-broker node/);
  });

  it("Done without moving leaves the node exactly as saved", async () => {
    const before = (await flow()).find((n) => n.id === "old1")!;
    assert.equal(await open("old1"), "Move to a new broker node");
    await done();
    assert.deepEqual((await flow()).find((n) => n.id === "old1"), before);
  });

  it("moves the settings into a new broker node, or uses the matching one; the flow deploys with the node pointing at it", async () => {
    await open("old1");
    await page.click("#otb-migrate");
    await done();
    assert.equal(await open("old2"), "Use broker node existing");
    await page.click("#otb-migrate");
    await done();
    const nodes = await flow();
    const old1 = nodes.find((n) => n.id === "old1")!;
    const created = nodes.find((n) => n.id === old1.broker)!;
    assert.equal(created.type, "otb-mqtt-broker");
    assert.equal(created.broker, "mqtt://127.0.0.1:1");
    assert.equal(nodes.find((n) => n.id === "old2")!.broker, "m2", "the matching broker node is used, none added");
    assert.equal(nodes.filter((n) => n.type === "otb-mqtt-broker").length, 2);
    const res = await page.evaluate(async (body) => {
      const r = await fetch("flows", { method: "POST", headers: { "Content-Type": "application/json", "Node-RED-Deployment-Type": "full" }, body: JSON.stringify(body) });
      return r.status;
    }, nodes);
    assert.ok(res === 200 || res === 204, `deploy: ${res}`);
    const saved = JSON.parse(fs.readFileSync(path.join(red.userDir, "flows.json"), "utf8")) as FlowNode[];
    assert.equal(saved.find((n) => n.id === "old1")!.broker, created.id);
  });
});
