/**
 * otb-opcua-in against the line simulator's OPC UA server (cli/sim), the way a user sets it up:
 * fetch the server certificate through the admin endpoint, pin it, SignAndEncrypt, and load the
 * simulator's tag catalog file from flows/catalog.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startSimulator, type Simulator } from "../../cli/sim";
import { validateSignal } from "../../nodes/shared";
import { loadCatalog } from "../../nodes/otb-opcua-in/tag-list";
import { helper, tab } from "../helpers/red";
import { waitFor } from "../helpers/peers";
import { endpointConfig, nodes, Recorder, useClientPki } from "./flows";
import { silenceNodeOpcua } from "./silence";

describe("otb-opcua-in against the line simulator", function () {
  this.timeout(60_000);
  let sim: Simulator;
  let pki: ReturnType<typeof useClientPki>;
  let simPki: string;
  const catalog = path.resolve(__dirname, "../../../flows/catalog/simulator-opcua-tags.json");

  before(async () => {
    silenceNodeOpcua();
    pki = useClientPki();
    simPki = fs.mkdtempSync(path.join(os.tmpdir(), "otb-opcua-sim-"));
    sim = await startSimulator({ seed: 3, opcuaPort: 0, pkiDir: simPki, protocols: { opcua: true, modbus: false, mqtt: false } });
  });
  after(async () => {
    await helper.unload();
    await sim?.stop();
    fs.rmSync(simPki, { recursive: true, force: true });
    pki.restore();
  });

  it("pins the fetched certificate and delivers every catalog tag over SignAndEncrypt", async () => {
    const flow = (extra: Record<string, unknown>): Array<Record<string, unknown>> =>
      tab([
        endpointConfig(sim.opcuaUrl!, { securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256", ...extra }),
        { id: "in", type: "otb-opcua-in", endpoint: "ep", tags: [], catalogPath: catalog, publishingInterval: "500", wires: [["out"]] },
        { id: "out", type: "helper" },
        { id: "catcher", type: "catch", scope: ["in"], uncaught: false, wires: [["caught"]] },
        { id: "caught", type: "helper" },
        { id: "statusWatch", type: "status", scope: ["in"], wires: [["statuses"]] },
        { id: "statuses", type: "helper" },
      ]);
    // What the editor's "Fetch server certificate" button does.
    await helper.load(nodes, flow({}));
    const res = await helper.request().get("/otb-opcua-endpoint/certificates").query({ url: sim.opcuaUrl }).expect(200);
    const offered = (res.body.endpoints as Array<{ securityMode: string; securityPolicy: string; certificate: { sha256: string } }>).find(
      (e) => e.securityMode === "SignAndEncrypt" && e.securityPolicy === "Basic256Sha256",
    );
    assert.ok(offered, "the simulator offers SignAndEncrypt / Basic256Sha256");
    await helper.unload();

    await helper.load(nodes, flow({ pinnedFingerprints: offered.certificate.sha256 }));
    const rec = new Recorder();
    const expected = loadCatalog(catalog, "/");
    await waitFor(() => expected.every((t) => rec.signals(t.tag).length > 0), 20_000, "a value for every catalog tag");
    for (const t of expected) {
      const s = rec.signals(t.tag)[0];
      assert.ok(validateSignal(s), JSON.stringify(validateSignal.errors));
      assert.strictEqual(s.source.address, t.nodeId);
      if (t.unit) assert.strictEqual(s.unit, t.unit);
    }
    assert.ok(rec.signals().some((s) => s.quality === "good" && typeof s.value === "number"));
    assert.deepStrictEqual(rec.errors, []);
  });
});
