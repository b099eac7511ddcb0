/**
 * A real Node-RED process loads the three ingestion node types with their editor forms, message
 * catalogs and help: what an OT engineer sees in the palette. Also deploys a flow through the
 * admin API with the password kept out of the flow file.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { startRuntime, type AdminSession } from "../helpers/admin";

const TYPES = ["otb-modbus-device", "otb-modbus-in", "otb-mqtt-in"];

describe("ingestion nodes in a real Node-RED editor", function () {
  this.timeout(30_000);
  let red: AdminSession;
  before(async () => {
    red = await startRuntime();
  });
  after(async () => {
    await red?.stop();
  });

  it("registers the three types without load errors, with forms, catalogs and help", async () => {
    const sets = (await red.get<Array<{ types: string[]; enabled: boolean; err?: string }>>("/nodes")).body;
    for (const type of TYPES) {
      const set = sets.find((s) => s.types.includes(type));
      assert.ok(set, `${type} registered`);
      assert.ok(set.enabled && !set.err, `${type} loaded: ${set.err ?? ""}`);
    }
    const html = await fetch(`${red.url}/nodes`, { headers: { Accept: "text/html" } }).then((r) => r.text());
    for (const type of TYPES) {
      assert.ok(html.includes(`data-template-name="${type}"`), `${type} form`);
      assert.ok(html.includes(`data-help-name="${type}"`), `${type} help`);
      const catalog = (await red.get<Record<string, unknown>>(`/locales/node-red-contrib-otbridge/${type}?lng=en-US`)).body;
      assert.ok(catalog[type], `${type} message catalog`);
    }
    for (const icon of ["otb-modbus-in.svg", "otb-mqtt-in.svg"]) {
      const res = await fetch(`${red.url}/icons/node-red-contrib-otbridge/${icon}`);
      assert.strictEqual(res.status, 200, icon);
    }
  });

  it("keeps the MQTT password in the credential store, not in the flow file", async () => {
    const flow = [
      { id: "t1", type: "tab", label: "t" },
      { id: "m1", z: "t1", type: "otb-mqtt-in", broker: "mqtt://127.0.0.1:1", topics: [{ topic: "a/#", qos: 0 }], format: "json", mapping: [], batchMs: 0, wires: [[], []], credentials: { username: "u", password: "s3cret-pw" } },
    ];
    const res = await red.post("/flows", flow, { "Node-RED-Deployment-Type": "full" });
    assert.ok(res.status === 200 || res.status === 204, `deploy ${res.status}`);
    const flowsFile = fs.readFileSync(path.join(red.userDir, "flows.json"), "utf8");
    assert.ok(flowsFile.includes('"otb-mqtt-in"'), "the deployed flow was written");
    assert.ok(!flowsFile.includes("s3cret-pw"), "no password in flows.json");
  });
});

describe("otb-modbus-device editor form validation", () => {
  /** The form's own script, run against a stub RED: the validators an engineer's input meets. */
  function defaults(): Record<string, { value: unknown; validate?: (this: unknown, v: unknown) => true | string }> {
    const html = fs.readFileSync(path.join(__dirname, "../../nodes/otb-modbus-device/otb-modbus-device.html"), "utf8") // as built: the form guard in place;
    const script = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)![1];
    let registered: { defaults: Record<string, never> } | null = null;
    const RED = { _: (k: string) => `msg:${k}`, validators: { number: () => () => true }, nodes: { registerType: (_t: string, def: never) => (registered = def) } };
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    new Function("RED", "$", script)(RED, () => ({ length: 0 }));
    return registered!.defaults;
  }

  it("accepts ${ENV} references and empty optional fields, refuses out-of-range values with a message", () => {
    const d = defaults();
    const ctx = { transport: "tcp" };
    for (const field of ["reconnectInitialMs", "reconnectMaxMs", "pollTimeoutMs", "retries", "timeoutMs", "unitId", "port", "maxQueue"]) {
      assert.ok(d[field], `${field} is a form field`);
      assert.strictEqual(d[field].validate!.call(ctx, "${OTB_SETTING}"), true, `${field} keeps \${ENV}`);
    }
    // Empty takes the default the runtime takes (retries 1, the request timeout for the poll timeout).
    for (const field of ["reconnectInitialMs", "reconnectMaxMs", "pollTimeoutMs", "retries"]) assert.strictEqual(d[field].validate!.call(ctx, ""), true, `${field} may be empty (default)`);
    assert.strictEqual(d.reconnectMaxMs.validate!.call(ctx, "500"), "reconnectMaxMs must be at least 1000 (got 500)");
    assert.strictEqual(d.reconnectInitialMs.validate!.call(ctx, "abc"), 'reconnectInitialMs must be a number (got "abc")');
    assert.strictEqual(d.pollTimeoutMs.validate!.call(ctx, "5"), "pollTimeoutMs must be at least 10 (got 5)");
    assert.strictEqual(d.retries.validate!.call(ctx, "11"), "retries must be at most 10 (got 11)");
    assert.strictEqual(d.unitId.validate!.call(ctx, ""), "unitId is required");
    // Host and serial port are judged by the transport.
    assert.strictEqual(d.host.validate!.call(ctx, ""), "host is required for Modbus TCP");
    assert.strictEqual(d.host.validate!.call({ transport: "rtu" }, ""), true);
    assert.strictEqual(d.serialPath.validate!.call(ctx, ""), true);
    assert.strictEqual(d.serialPath.validate!.call({ transport: "rtu" }, ""), "serialPath is required for Modbus RTU (e.g. /dev/ttyUSB0)");
    assert.deepStrictEqual([d.reconnectInitialMs.value, d.reconnectMaxMs.value, d.pollTimeoutMs.value], [1000, 30000, ""]);
  });
});
