/**
 * The single-line pilot as an example of the installed pack (Import > Examples): generated from
 * flows/single-line-pilot.json (pilot-example.ts), and declaring every module beyond Node-RED and
 * this pack that its nodes come from, in its global-config node's `modules`, where Node-RED 4's
 * editor looks to offer "Install all" on import.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import { startRuntime, type AdminSession } from "../helpers/admin";
import { PACK_NAME } from "./fresh-install";
import { PILOT_EXAMPLE, pilotExampleText } from "./pilot-example";

interface FlowNode {
  type: string;
  modules?: Record<string, string>;
}

describe("install: the single-line pilot example", function () {
  this.timeout(120_000);

  it("is the pilot flow, regenerated (node dist/test/install/pilot-example.js --write after changing the pilot)", () => {
    assert.ok(fs.existsSync(PILOT_EXAMPLE), PILOT_EXAMPLE);
    assert.equal(fs.readFileSync(PILOT_EXAMPLE, "utf8"), pilotExampleText(), "examples/09 has drifted from flows/single-line-pilot.json");
  });

  describe("against Node-RED's registry", () => {
    let red: AdminSession;
    before(async () => {
      red = await startRuntime();
    });
    after(() => red?.stop());

    it("declares, in its global-config modules, every module its node types come from beyond Node-RED and this pack", async () => {
      const flow = JSON.parse(fs.readFileSync(PILOT_EXAMPLE, "utf8")) as FlowNode[];
      const { body } = await red.get<Array<{ module: string; types: string[]; version?: string }>>("/nodes");
      const moduleOf = new Map<string, string>();
      for (const set of body) for (const t of set.types) moduleOf.set(t, set.module);
      const used = new Set<string>();
      for (const n of flow) {
        if (n.type === "tab" || n.type === "global-config") continue;
        const mod = moduleOf.get(n.type);
        assert.ok(mod, `node type ${n.type} is registered by no installed module`);
        if (mod !== "node-red" && mod !== PACK_NAME) used.add(mod);
      }
      const declared = flow.find((n) => n.type === "global-config")?.modules ?? {};
      assert.deepEqual(Object.keys(declared).sort(), [...used].sort());
      assert.ok(used.has("@flowfuse/node-red-dashboard"), "the dashboard is among them (the test can fail)");
    });
  });
});
