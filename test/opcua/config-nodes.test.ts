/**
 * Issue 16, the ingestion config nodes: a configuration error of an otb-opcua-endpoint or an
 * otb-modbus-device reaches a real Catch node once, through its reader, whose status says
 * "config: endpoint: ..." / "config: device: ..." without a second report; the endpoint's PKI
 * lives in userDir or the endpoint refuses to start; tag catalogs and register map files are
 * read relative to userDir (map files also from the pack, where the examples' map lives).
 */
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import endpointNode = require("../../nodes/otb-opcua-endpoint/otb-opcua-endpoint");
import opcuaInNode = require("../../nodes/otb-opcua-in/otb-opcua-in");
import deviceNode = require("../../nodes/otb-modbus-device/otb-modbus-device");
import modbusInNode = require("../../nodes/otb-modbus-in/otb-modbus-in");
import { caughtWithin, helper, tab, withCoreNodes } from "../helpers/red";
import { waitFor } from "../helpers/peers";

type Status = { fill?: string; text?: string };
const nodes = withCoreNodes([endpointNode, opcuaInNode, deviceNode, modbusInNode]);
const lastStatus = (id: string): Status | undefined => (helper.getNode(id) as unknown as { status: sinon.SinonSpy }).status.lastCall?.args[0] as Status | undefined;
const messageOf = (m: Record<string, unknown>): string => String((m.error as { message?: unknown }).message);
const sourceOf = (m: Record<string, unknown>): string | undefined => (m.error as { source?: { id?: string } }).source?.id;

function catcher(): Array<Record<string, unknown>> {
  return [
    { id: "catcher", type: "catch", uncaught: false, wires: [["caught"]] },
    { id: "caught", type: "helper" },
  ];
}

describe("ingestion config nodes: deploy-time errors through their users", function () {
  this.timeout(30_000);
  let dir: string;
  const pkiEnv = process.env.OTB_OPCUA_PKI_DIR;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-cfg-nodes-"));
    delete process.env.OTB_OPCUA_PKI_DIR;
  });
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    if (pkiEnv === undefined) delete process.env.OTB_OPCUA_PKI_DIR;
    else process.env.OTB_OPCUA_PKI_DIR = pkiEnv;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("otb-opcua-endpoint: a bad policy reaches Catch once through its otb-opcua-in, which shows config: endpoint: ...", async () => {
    helper.settings({ userDir: dir });
    await helper.load(nodes, tab([
      { id: "ep", type: "otb-opcua-endpoint", endpointUrl: "opc.tcp://127.0.0.1:4840", securityMode: "None", securityPolicy: "Basic256Sha256" },
      { id: "in", type: "otb-opcua-in", endpoint: "ep", tags: [{ nodeId: "i=2258", tag: "clock" }], publishingInterval: "500", wires: [[]] },
      ...catcher(),
    ]));
    const caught = await caughtWithin(helper.getNode("caught"));
    assert.deepEqual(caught.map(sourceOf), ["ep"], "one report, from the endpoint");
    assert.equal(messageOf(caught[0]!), "ConfigError: securityPolicy must be None when securityMode is None (got Basic256Sha256)");
    assert.deepEqual(lastStatus("in"), { fill: "red", shape: "dot", text: "config: endpoint: securityPolicy must be None when security…" });
  });

  it("otb-modbus-device: a bad port reaches Catch once through its otb-modbus-in, which shows config: device: ...", async () => {
    await helper.load(nodes, tab([
      { id: "dev", type: "otb-modbus-device", transport: "tcp", host: "127.0.0.1", port: "70000", unitId: "1" },
      { id: "in", type: "otb-modbus-in", device: "dev", mapSource: "table", tags: [{ tag: "a", address: 0 }], wires: [[]] },
      ...catcher(),
    ]));
    const caught = await caughtWithin(helper.getNode("caught"));
    assert.deepEqual(caught.map(sourceOf), ["dev"], "one report, from the device");
    assert.equal(messageOf(caught[0]!), "ConfigError: port must be at most 65535 (got 70000)");
    assert.equal(lastStatus("in")?.fill, "red");
    assert.equal(lastStatus("in")?.text, "config: device: port must be at most 65535 (got 70000)");
  });

  it("a reader's own error is its own report; the working config node is not blamed", async () => {
    await helper.load(nodes, tab([
      { id: "dev", type: "otb-modbus-device", transport: "tcp", host: "127.0.0.1", port: "1", unitId: "1", timeoutMs: "100" },
      { id: "in", type: "otb-modbus-in", device: "dev", mapSource: "file", mapFile: "", tags: [], wires: [[]] },
      ...catcher(),
    ]));
    const caught = await caughtWithin(helper.getNode("caught"));
    assert.deepEqual(caught.map(sourceOf), ["in"]);
    assert.equal(messageOf(caught[0]!), "ConfigError: mapFile is required when the register map comes from a file");
    assert.equal(lastStatus("in")?.text, "config: mapFile is required when the register map comes fro…");
    // It never registered with the device: the device opens no connection for it.
    assert.equal((helper.getNode("dev") as unknown as { device: { conn: { userCount: number; state: string } } }).device.conn.userCount, 0);
  });

  it("otb-opcua-endpoint without userDir (and no PKI folder set) refuses to start, saying why", async () => {
    helper.settings({});
    await helper.load(nodes, tab([
      { id: "ep", type: "otb-opcua-endpoint", endpointUrl: "opc.tcp://127.0.0.1:4840", securityMode: "None", securityPolicy: "None" },
      { id: "in", type: "otb-opcua-in", endpoint: "ep", tags: [{ nodeId: "i=2258", tag: "clock" }], wires: [[]] },
      ...catcher(),
    ]));
    const caught = await caughtWithin(helper.getNode("caught"));
    assert.deepEqual(caught.map(sourceOf), ["ep"]);
    assert.match(messageOf(caught[0]!), /^ConfigError: Node-RED has no userDir, so the OPC UA client's certificates \(PKI\) has nowhere durable to live/);
    assert.match(String(lastStatus("in")?.text), /^config: endpoint: Node-RED has no userDir/);
    assert.equal((helper.getNode("ep") as unknown as { endpoint: unknown }).endpoint, null, "no client was built");
  });

  it("otb-opcua-endpoint keeps its PKI in <userDir>/otbridge/opcua-pki", async () => {
    helper.settings({ userDir: dir });
    await helper.load(nodes, tab([
      { id: "ep", type: "otb-opcua-endpoint", endpointUrl: "opc.tcp://127.0.0.1:1", securityMode: "None", securityPolicy: "None", reconnectMaxDelay: "500" },
      { id: "in", type: "otb-opcua-in", endpoint: "ep", tags: [{ nodeId: "i=2258", tag: "clock" }], wires: [[]] },
    ]));
    const pki = (helper.getNode("ep") as unknown as { endpoint: { pkiDir: string } }).endpoint.pkiDir;
    assert.equal(pki, path.join(dir, "otbridge", "opcua-pki"));
    // The first connect attempt creates the client's own certificate there.
    await waitFor(() => fs.existsSync(path.join(pki, "own")), 20_000, "the PKI folder in userDir");
  });

  it("otb-opcua-in reads a relative tag catalog from userDir, and says which file it could not read", async () => {
    helper.settings({ userDir: dir });
    process.env.OTB_OPCUA_PKI_DIR = path.join(dir, "pki");
    fs.writeFileSync(path.join(dir, "tags.json"), JSON.stringify({ tags: [{ nodeId: "i=2258", tag: "clock" }] }));
    await helper.load(nodes, tab([
      { id: "ep", type: "otb-opcua-endpoint", endpointUrl: "opc.tcp://127.0.0.1:1", securityMode: "None", securityPolicy: "None" },
      { id: "good", type: "otb-opcua-in", endpoint: "ep", catalogPath: "tags.json", tags: [], wires: [[]] },
      { id: "bad", type: "otb-opcua-in", endpoint: "ep", catalogPath: "missing.json", tags: [], wires: [[]] },
      ...catcher(),
    ]));
    const caught = await caughtWithin(helper.getNode("caught"));
    assert.deepEqual(caught.map(sourceOf), ["bad"]);
    assert.equal(messageOf(caught[0]!), `ConfigError: tag catalog ${path.join(dir, "missing.json")} cannot be read: ENOENT`);
    const endpoint = (helper.getNode("ep") as unknown as { endpoint: { conn: { users: Record<string, unknown> } } }).endpoint;
    assert.deepEqual(Object.keys(endpoint.conn.users), ["good"], "the node that cannot run is not a user of the endpoint");
  });

  it("otb-modbus-in reads a map file from userDir first, else from the pack (where the examples' map lives)", async () => {
    helper.settings({ userDir: dir });
    const name = "flows/catalog/simulator-modbus-map.json";
    const flow = (mapFile: string): Array<Record<string, unknown>> => [
      { id: "dev", type: "otb-modbus-device", transport: "tcp", host: "127.0.0.1", port: "1", unitId: "1" },
      { id: "in", type: "otb-modbus-in", device: "dev", mapSource: "file", mapFile, tags: [], periodMs: "0", wires: [[]] },
      ...catcher(),
    ];
    // A copy in userDir wins over the pack's file of the same name (this one is not JSON: the error names it).
    fs.mkdirSync(path.join(dir, "flows", "catalog"), { recursive: true });
    fs.writeFileSync(path.join(dir, name), "{ not json");
    await helper.load(nodes, tab(flow(name)));
    let caught = await caughtWithin(helper.getNode("caught"));
    assert.deepEqual(caught.map(sourceOf), ["in"]);
    assert.match(messageOf(caught[0]!), new RegExp(`^ConfigError: mapFile ${path.join(dir, name).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} is not valid JSON`));
    await helper.unload();
    // Without it, the pack's own map loads: no report from the reader
    fs.rmSync(path.join(dir, name));
    await helper.load(nodes, tab(flow(name)));
    // (its device, on a closed port, reports its outage through this reader: proof it became a reader).
    caught = await caughtWithin(helper.getNode("caught"));
    assert.deepEqual(caught.filter((m) => sourceOf(m) === "in").map(messageOf), []);
    assert.match(caught.map(messageOf).join("\n"), /^ConnectionError: modbus 127\.0\.0\.1:1#1: connect ECONNREFUSED/);
    // A file in neither place is named as userDir's.
    await helper.unload();
    await helper.load(nodes, tab(flow("nowhere.json")));
    caught = await caughtWithin(helper.getNode("caught"));
    assert.match(messageOf(caught[0]!), new RegExp(`^ConfigError: mapFile ${path.join(dir, "nowhere.json").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: ENOENT`));
  });
});
