import { strict as assert } from "assert";
import type * as sinon from "sinon";
import { onClose, onInput, reportError } from "../../nodes/shared";
import type { Node, NodeAPI, NodeDef } from "../../nodes/shared/red";
import { helper, nextMessage, tab, withCoreNodes } from "../helpers/red";

/**
 * A node built on the kit whose behaviour the message chooses: pass, throw, reject, or report
 * an error from a timer (outside the input handler). Its close hangs when told to.
 */
function kitNode(RED: NodeAPI): void {
  function KitProbe(this: Node & { hangClose?: boolean }, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    onInput(this, async (msg, send) => {
      if (msg.payload === "throw") throw new Error("sync failure");
      if (msg.payload === "reject") await Promise.reject(new Error("async failure"));
      if (msg.payload === "later") setTimeout(() => reportError(this, new Error("poll failed"), { payload: "ctx" }), 5);
      send(msg);
    });
    onClose(this, () => (this.hangClose ? new Promise<void>(() => undefined) : undefined), 200);
  }
  RED.nodes.registerType("kit-probe", KitProbe as unknown as (this: Node, def: NodeDef) => void);
}

const flow = tab([
  { id: "probe", type: "kit-probe", wires: [["out"]] },
  { id: "out", type: "helper" },
  { id: "catcher", type: "catch", scope: ["probe"], uncaught: false, wires: [["caught"]] },
  { id: "caught", type: "helper" },
  { id: "completer", type: "complete", scope: ["probe"], uncaught: false, wires: [["completed"]] },
  { id: "completed", type: "helper" },
]);

describe("node kit", () => {
  afterEach(() => helper.unload());

  it("passes messages and signals completion to Complete nodes", async () => {
    await helper.load(withCoreNodes(kitNode), flow);
    const done = nextMessage(helper.getNode("completed"));
    const out = nextMessage(helper.getNode("out"));
    helper.getNode("probe").receive({ payload: "ok" });
    assert.equal((await out).payload, "ok");
    assert.equal((await done).payload, "ok");
  });

  for (const kind of ["throw", "reject"]) {
    it(`routes a ${kind} in the input handler to Catch nodes, with the message`, async () => {
      await helper.load(withCoreNodes(kitNode), flow);
      const caught = nextMessage(helper.getNode("caught"));
      helper.getNode("probe").receive({ payload: kind, topic: "t1" });
      const msg = await caught;
      assert.equal(msg.topic, "t1");
      assert.match(String((msg.error as { message: string }).message), /failure/);
    });
  }

  it("routes errors raised outside an input handler to Catch nodes", async () => {
    await helper.load(withCoreNodes(kitNode), flow);
    const caught = nextMessage(helper.getNode("caught"));
    helper.getNode("probe").receive({ payload: "later" });
    const msg = await caught;
    assert.equal(msg.payload, "ctx");
    assert.match(String((msg.error as { message: string }).message), /poll failed/);
  });

  it("keeps the runtime's arity contract (input 3, close 2)", async () => {
    await helper.load(withCoreNodes(kitNode), flow);
    const probe = helper.getNode("probe");
    // Node-RED keeps these callbacks itself and reads their .length to pick the contract.
    assert.equal(probe._inputCallback.length, 3);
    assert.equal(probe._closeCallbacks[0].length, 2);
  });

  it("finishes a hanging close within its bound and says so", async () => {
    await helper.load(withCoreNodes(kitNode), flow);
    const probe = helper.getNode("probe");
    probe.hangClose = true;
    const t0 = Date.now();
    await probe.close(true);
    assert.ok(Date.now() - t0 < 2000);
    assert.ok((probe.warn as unknown as sinon.SinonSpy).calledWithMatch(/did not finish within 200 ms/));
  });
});
