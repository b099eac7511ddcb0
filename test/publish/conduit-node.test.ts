/**
 * otb-conduit as Node-RED runs it (issue 16): its deploy-time errors reach a real Catch node once,
 * through the nodes that use it, and those show "config: conduit: ..."; its durable queue lives in
 * userDir and is refused without one (no temporary-folder fallback); a conduit saved before the
 * schema's version 2 runs as it did.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { OtbConduitNode } from "../../nodes/otb-conduit/conduit";
import { defineNode } from "../../nodes/shared/define-node";
import type { NodeAPI } from "../../nodes/shared/red";
import { defineSchema, field } from "../../nodes/shared/schema";
import { caughtWithin, helper, withCoreNodes } from "../helpers/red";
import { tempDir } from "./harness";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const conduitNode = require("../../nodes/otb-conduit/otb-conduit") as (RED: any) => void;

/** A user defined like every otb node (otb-publish's `conduit` field), so that it registers in the conduit's users. */
const userNode = (RED: NodeAPI): void =>
  defineNode(RED, { schema: defineSchema({ type: "test-conduit-user", version: 1, fields: { conduit: field.ref("otb-conduit", { required: true }) } }), create: () => ({}) });

const conduit = (extra: Record<string, unknown>): Record<string, unknown> => ({
  id: "c1", type: "otb-conduit", name: "north", broker: "mqtt://127.0.0.1:1", sourceZone: "L3", targetZone: "DMZ", protocolVersion: "5",
  allowTopics: ["acme/#"], reconnectMax: 60, connectTimeout: 1, ...extra,
});

function flow(extra: Record<string, unknown>): Array<Record<string, unknown>> {
  return [
    { id: "t", type: "tab" },
    conduit(extra),
    { id: "user", z: "t", type: "test-conduit-user", conduit: "c1", wires: [] },
    { id: "catcher", z: "t", type: "catch", uncaught: false, wires: [["caught"]] },
    { id: "caught", z: "t", type: "helper" },
  ];
}

function lastStatus(id: string): { fill?: string; text?: string } | undefined {
  return (helper.getNode(id) as unknown as { status: sinon.SinonSpy }).status.lastCall?.args[0];
}

describe("otb-conduit in Node-RED: deploy-time errors, userDir, saved flows", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = tempDir("otb-conduit-node-")));
  afterEach(async () => {
    await helper.unload();
    helper.settings({ userDir: undefined });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a zone rule broken (plaintext into L4) reaches Catch once, through its user, and the user shows it", async () => {
    await helper.load(withCoreNodes([conduitNode, userNode]), flow({ targetZone: "L4", queueDir: dir }));
    const reports = await caughtWithin(helper.getNode("caught"));
    assert.equal(reports.length, 1, `one report, got ${reports.length}`);
    const error = reports[0]!.error as { message: string; source: { id: string } };
    assert.equal(error.source.id, "c1");
    assert.match(error.message, /into L4 a conduit needs TLS \(mqtts:\/\/ or wss:\/\/\), not mqtt:\/\//);
    assert.equal(lastStatus("user")?.fill, "red");
    assert.match(String(lastStatus("user")?.text), /^config: conduit: into L4 a conduit needs TLS/);
    const node = helper.getNode("c1") as unknown as OtbConduitNode;
    assert.equal(node.conduit, null);
    assert.match(String(node.configError), /needs TLS/);
  });

  it("without userDir and without a queue folder it refuses, saying why, and writes nothing to the temp folder", async () => {
    const tmpQueue = path.join(os.tmpdir(), "otbridge", "otbridge-queue", "c1");
    const existedBefore = fs.existsSync(tmpQueue);
    helper.settings({ userDir: undefined });
    await helper.load(withCoreNodes([conduitNode, userNode]), flow({}));
    const reports = await caughtWithin(helper.getNode("caught"));
    assert.equal(reports.length, 1);
    assert.match((reports[0]!.error as { message: string }).message, /^(ConfigError: )?Node-RED has no userDir, so the conduit's queue has nowhere durable to live: set userDir/);
    assert.match(String(lastStatus("user")?.text), /^config: conduit: Node-RED has no userDir/);
    assert.equal(fs.existsSync(tmpQueue), existedBefore, "no queue in the OS temp folder");
  });

  it("with userDir its queue is <userDir>/otbridge-queue/<id>, a relative queue folder is taken from userDir", async () => {
    helper.settings({ userDir: dir });
    await helper.load(withCoreNodes([conduitNode, userNode]), flow({}));
    const node = helper.getNode("c1") as unknown as OtbConduitNode;
    assert.equal(node.configError, null);
    assert.equal(node.conduit?.cfg.queue.dir, path.join(dir, "otbridge-queue", "c1"));
    assert.ok(fs.existsSync(path.join(dir, "otbridge-queue", "c1")), "the queue folder exists");
    await helper.unload();
    await helper.load(withCoreNodes([conduitNode, userNode]), flow({ queueDir: "queues/dmz" }));
    assert.equal((helper.getNode("c1") as unknown as OtbConduitNode).conduit?.cfg.queue.dir, path.join(dir, "queues", "dmz"));
    assert.ok(fs.existsSync(path.join(dir, "queues", "dmz")));
  });

  it("a conduit's run-time error reaches Catch once per user, whether it registered through defineNode, the connection or both", async () => {
    helper.settings({ userDir: dir });
    const flowWithPlainUser = [...flow({}), { id: "plain", z: "t", type: "test-plain-user", wires: [] }];
    // A user not defined through defineNode: it only registers with the conduit's connection (as otb-publish did).
    const plainUser = (RED: NodeAPI): void => {
      function Plain(this: import("node-red").Node, def: import("node-red").NodeDef): void {
        RED.nodes.createNode(this as never, def as never);
        (RED.nodes.getNode("c1") as unknown as OtbConduitNode).conduit!.connection.register(this as never, { onState: () => undefined });
      }
      (RED.nodes.registerType as (t: string, c: unknown) => void)("test-plain-user", Plain);
    };
    await helper.load(withCoreNodes([conduitNode, userNode, plainUser]), flowWithPlainUser);
    const node = helper.getNode("c1") as unknown as OtbConduitNode;
    // The defineNode user also registers with the connection: it must still hear each error once.
    node.conduit!.connection.register(helper.getNode("user") as never, { onState: () => undefined });
    const caught = caughtWithin(helper.getNode("caught"), 10_000, 500);
    await new Promise((r) => setTimeout(r, 50));
    node.conduit!.emit("fault", new Error("queue write failed: EIO"));
    const reports = (await caught).filter((m) => /EIO/.test((m.error as { message: string }).message));
    // One Catch node on the tab: Node-RED delivers one report per user that routes it there (two users).
    assert.equal(reports.length, 2, `one report per user, got ${reports.length}`);
    assert.deepEqual(Object.keys(node.users).sort(), ["plain", "user"]);
  });

  it("a conduit saved before version 2 (no alarm/KPI flags, events off) carries no alarms or KPIs; one saved now keeps its flags", async () => {
    await helper.load(withCoreNodes([conduitNode, userNode]), flow({ queueDir: dir, allowEvents: false }));
    const kinds = (): string[] => [...((helper.getNode("c1") as unknown as OtbConduitNode).conduit?.cfg.kinds ?? [])].sort();
    assert.deepEqual(kinds(), ["features", "inference", "signals"]);
    await helper.unload();
    await helper.load(withCoreNodes([conduitNode, userNode]), flow({ queueDir: dir, version: 2, allowEvents: false, allowAlarms: true, allowKpi: false }));
    assert.deepEqual(kinds(), ["alarms", "features", "inference", "signals"]);
  });
});
