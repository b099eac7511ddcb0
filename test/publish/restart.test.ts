/**
 * A real Node-RED child process with the pack, a flow that accepts Signal batches over HTTP and
 * answers only once otb-publish completed them (queued on disk). The broker is down the whole
 * time Node-RED runs the first time; Node-RED is then stopped, or killed with SIGKILL, and
 * every record it acknowledged must reach an independent subscriber after the restart.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { startNodeRed, type RunningNodeRed } from "../../cli/node-red-runner";
import { itWithMosquitto } from "../helpers/interop";
import { freePort, startMosquitto, waitFor, type Mosquitto } from "../helpers/peers";
import { Counter, tempDir } from "./harness";

function flowFile(dir: string, brokerPort: number): string {
  const file = path.join(dir, "flow-template.json");
  fs.writeFileSync(file, JSON.stringify([
    { id: "tab1", type: "tab", label: "restart test" },
    { id: "c1", type: "otb-conduit", name: "dmz", broker: `mqtt://127.0.0.1:${brokerPort}`, protocolVersion: "5",
      sourceZone: "L3", targetZone: "DMZ", allowTopics: ["acme/#"], queueDir: path.join(dir, "queue"),
      commitMs: "20", keepalive: "5", connectTimeout: "2", reconnectMax: "1", replayOrder: "in-order", fullPolicy: "reject-new" },
    { id: "in1", type: "http in", z: "tab1", url: "/produce", method: "post", wires: [["p1"]] },
    { id: "p1", type: "otb-publish", z: "tab1", conduit: "c1", wires: [] },
    { id: "cmp", type: "complete", z: "tab1", scope: ["p1"], uncaught: false, wires: [["res"]] },
    { id: "res", type: "http response", z: "tab1", statusCode: "200", wires: [] },
  ], null, 2));
  return file;
}

const batch = (from: number, n: number): unknown[] => Array.from({ length: n }, (_, k) => ({
  tag: `tag${(from + k) % 5}`, value: from + k, ts: Date.now(), quality: "good",
  source: { protocol: "sim", address: "x" }, context: { enterprise: "acme", site: "s1", area: "a1", line: "l1" },
}));

/** POSTs a batch; a 404 means the flows are not started yet (the editor listens first), so retry. */
async function post(url: string, body: unknown): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await fetch(`${url}/produce`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    await res.text();
    if (res.status !== 404 || Date.now() > deadline) return res.status;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("store and forward across a Node-RED restart (real Node-RED child process)", function () {
  this.timeout(90_000);
  let dir: string;
  let red: RunningNodeRed | null = null;
  let broker: Mosquitto | null = null;
  let counter: Counter | null = null;

  beforeEach(() => (dir = tempDir("otb-restart-")));
  afterEach(async () => {
    await counter?.stop();
    await red?.stop();
    await broker?.close();
    counter = null;
    red = null;
    broker = null;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const how of ["stopped", "killed with SIGKILL"] as const) {
    itWithMosquitto(`${how} while the broker is down: every committed record is delivered after restart`, async () => {
      const brokerPort = await freePort();
      const opts = { userDir: path.join(dir, "user"), port: 0, flowTemplate: flowFile(dir, brokerPort), log: () => undefined };
      red = await startNodeRed(opts);
      let committed = 0;
      for (let i = 0; i < 20; i++) {
        const status = await post(red.url, batch(i * 50, 50));
        if (status === 200) committed += 50;
      }
      assert.equal(committed, 1000, "every batch was acknowledged as queued");
      if (how === "stopped") {
        await red.stop();
      } else {
        const child = red.child;
        await new Promise<void>((resolve) => {
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        });
      }
      red = null;
      // No limit on what mosquitto queues for the subscriber (default 1,000): the replay outruns it.
      broker = await startMosquitto(["max_queued_messages 1000000", "max_inflight_messages 0"], { port: brokerPort });
      counter = await Counter.start(broker.url, "acme/#", {}, (body) => body.value as number);
      red = await startNodeRed(opts);
      await waitFor(() => counter!.unique === committed, 30_000, `${committed} records at the subscriber`).catch((err: Error) => {
        throw new Error(`${err.message}: got ${counter!.unique}`);
      });
      assert.equal(counter.outOfOrder, 0, "order per topic kept");
    });
  }
});
