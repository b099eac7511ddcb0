/**
 * Probe (reliability.md §9 D3, L3): otb-opcua-in against a node-opcua server scripted with quirks
 * real servers have, other than the suite's test server:
 * - a monitored item whose server queue overflows (a value changing faster than the queue size
 *   allows per publishing interval): OPC UA Part 4 §5.12.1.5 sets the Overflow info bit on the
 *   value after the discarded ones. Values were lost at the server: the user must be told, on
 *   the Signal and once in Catch, not shown a plain "good";
 * - a variable whose source timestamp is the OPC UA null DateTime (0 ticks = 1601-01-01, what a
 *   device without a clock sends; Part 6 §5.2.2.5): a Signal cannot carry a negative time, so the
 *   server timestamp (Part 4 §7.11: the time the server received the value) stands in;
 * - operation limits (Part 5 §6.3.11 OperationLimits): at most 100 monitored items per
 *   CreateMonitoredItems call and 100 nodes per Read, as small PLC servers announce; a larger
 *   call is refused as a whole with BadTooManyOperations;
 * - a server that revises the publishing interval up (Part 4 §5.13.2: the server returns the
 *   revised interval; PLCs often have a minimum of a second or more): its keep-alives then come
 *   far less often than asked, and a subscription whose tags do not change is quiet for that long.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DataType, DataValue, MessageSecurityMode, OPCUACertificateManager, OPCUAServer, RegisterServerMethod, SecurityPolicy, StatusCodes, Subscription, Variant } from "node-opcua";
import { validateSignal } from "../../nodes/shared";
import { helper } from "../helpers/red";
import { freePort, waitFor } from "../helpers/peers";
import { nodes, opcuaFlow, Recorder, tag, useClientPki } from "./flows";
import { silenceNodeOpcua } from "./silence";

const OPC_NULL_DATE = new Date(Date.UTC(1601, 0, 1));
const PER_CALL = 100;
const MANY = 250;

async function quirkyServer(port: number): Promise<{ url: string; stop(): Promise<void> }> {
  silenceNodeOpcua();
  const pki = fs.mkdtempSync(path.join(os.tmpdir(), "otb-probe-srv-"));
  const server = new OPCUAServer({
    port,
    hostname: "127.0.0.1",
    alternateHostname: ["127.0.0.1"],
    serverCertificateManager: new OPCUACertificateManager({ rootFolder: pki, automaticallyAcceptUnknownCertificate: true, disableFileWatchers: true }),
    securityModes: [MessageSecurityMode.None],
    securityPolicies: [SecurityPolicy.None],
    allowAnonymous: true,
    registerServerMethod: RegisterServerMethod.HIDDEN,
    serverCapabilities: { minSupportedSampleRate: 0, operationLimits: { maxMonitoredItemsPerCall: PER_CALL, maxNodesPerRead: PER_CALL } } as never,
    buildInfo: { productName: "otbridge-probe-quirky-server" },
  });
  await server.initialize();
  const ns = server.engine.addressSpace!.getOwnNamespace();
  const objects = server.engine.addressSpace!.rootFolder.objects;
  // Exception-based (sampling 0): every write is a change queued for the subscription.
  const fast = ns.addVariable({ organizedBy: objects, browseName: "Fast", nodeId: "s=Fast", dataType: "Double", minimumSamplingInterval: 0 });
  let n = 0;
  fast.setValueFromSource(new Variant({ dataType: DataType.Double, value: n }));
  const timer = setInterval(() => {
    for (let k = 0; k < 5; k++) fast.setValueFromSource(new Variant({ dataType: DataType.Double, value: ++n }));
  }, 10);
  ns.addVariable({
    organizedBy: objects, browseName: "NoClock", nodeId: "s=NoClock", dataType: "Double", minimumSamplingInterval: 100,
    value: {
      timestamped_get: () => new DataValue({ value: new Variant({ dataType: DataType.Double, value: 42 }), statusCode: StatusCodes.Good, sourceTimestamp: OPC_NULL_DATE, serverTimestamp: new Date() }),
    },
  });
  for (let i = 0; i < MANY; i++) {
    ns.addVariable({ organizedBy: objects, browseName: `Many.${i}`, nodeId: `s=Many.${i}`, dataType: "Double", value: { dataType: DataType.Double, value: i } });
  }
  await server.start();
  return {
    url: `opc.tcp://127.0.0.1:${port}`,
    stop: async () => {
      clearInterval(timer);
      await server.shutdown(0);
      fs.rmSync(pki, { recursive: true, force: true });
    },
  };
}

describe("probe: otb-opcua-in against a server with quirks", function () {
  this.timeout(60_000);
  let server: Awaited<ReturnType<typeof quirkyServer>>;
  let pki: ReturnType<typeof useClientPki>;

  before(async () => {
    pki = useClientPki();
    server = await quirkyServer(await freePort());
  });
  after(async () => {
    await server.stop();
    pki.restore();
  });
  afterEach(() => helper.unload());

  it("a server queue that overflows: the values after the loss say opcua:Overflow (never opcua:Good), and Catch hears it once, naming the tag", async () => {
    await helper.load(nodes, opcuaFlow(server.url, [tag("ns=1;s=Fast", "probe.fast", { samplingInterval: 0, queueSize: 2 })], { publishingInterval: 300 }));
    const rec = new Recorder();
    await waitFor(() => rec.signals("probe.fast").filter((s) => s.reasons?.includes("opcua:Overflow")).length >= 3, 20_000, "three overflows").catch((e) => { throw new Error(`${e.message}: reasons seen ${JSON.stringify([...new Set(rec.signals("probe.fast").map((s) => String(s.reasons)))])}, ${rec.signals("probe.fast").length} values`); });
    const signals = rec.signals("probe.fast");
    assert.ok(signals.every((s) => !s.reasons?.includes("opcua:Good")), "no opcua:Good reason");
    for (const s of signals) assert.ok(validateSignal(s), JSON.stringify(validateSignal.errors));
    const flagged = signals.find((s) => s.reasons?.includes("opcua:Overflow"))!;
    assert.strictEqual(flagged.quality, "good", "the value itself is good; the ones before it were lost");
    await waitFor(() => rec.errors.length >= 1, 5_000, "a report in Catch");
    const reports = rec.errors.filter((e) => /overflow/i.test(e));
    assert.strictEqual(reports.length, 1, rec.errors.join("\n"));
    assert.match(reports[0]!, /probe\.fast/);
    assert.match(reports[0]!, /queue ?size/i);
  });

  it(`a server that takes ${PER_CALL} monitored items per call: all ${MANY} tags subscribed, each delivered good with its own value`, async () => {
    const tags = Array.from({ length: MANY }, (_, i) => tag(`ns=1;s=Many.${i}`, `many.${i}`, { samplingInterval: 500 }));
    await helper.load(nodes, opcuaFlow(server.url, tags, { publishingInterval: 200 }));
    const rec = new Recorder();
    await waitFor(() => new Set(rec.signals().filter((s) => s.quality === "good").map((s) => s.tag)).size === MANY || rec.errors.length > 0, 30_000, "every tag");
    assert.deepStrictEqual(rec.errors, []);
    for (let i = 0; i < MANY; i++) {
      const got = rec.signals(`many.${i}`).find((s) => s.quality === "good");
      assert.ok(got && got.value === i, `many.${i}: ${JSON.stringify(rec.signals(`many.${i}`)[0])}`);
    }
  });

  it("a server that revises the publishing interval to 2.5 s: a quiet subscription is not taken for a stalled one", async () => {
    // Server side only (node-opcua's server Subscription class), restored after the test.
    const previous = Subscription.minimumPublishingInterval;
    Subscription.minimumPublishingInterval = 2500;
    try {
      await helper.load(nodes, opcuaFlow(server.url, [tag("ns=1;s=Many.7", "static.seven", { samplingInterval: 100 })], { publishingInterval: 200 }));
      const rec = new Recorder();
      await waitFor(() => rec.signals("static.seven").length >= 1, 15_000, "the initial value");
      // Keep-alives now come every 2.5 s x the keep-alive count (12.5 s), longer than the stall
      // bound computed from the requested 200 ms (3 x 1 s keep-alive + 200 ms + 3 s request timeout,
      // 6.2 s: before the fix the session was restarted 7 s after the last answer).
      await new Promise((r) => setTimeout(r, 10_000));
      assert.deepStrictEqual(rec.commLostBatches().length, 0, "no comm_lost for a quiet subscription");
      assert.deepStrictEqual(rec.errors, []);
      assert.ok(rec.signals("static.seven").every((s) => s.quality === "good"), JSON.stringify(rec.signals("static.seven").map((s) => s.reasons)));
    } finally {
      Subscription.minimumPublishingInterval = previous;
    }
  });

  it("a source timestamp that is the OPC UA null date: the Signal carries the server timestamp and is valid", async () => {
    await helper.load(nodes, opcuaFlow(server.url, [tag("ns=1;s=NoClock", "probe.noclock", { samplingInterval: 100 })]));
    const rec = new Recorder();
    await waitFor(() => rec.signals("probe.noclock").length >= 1, 20_000, "a value");
    const s = rec.signals("probe.noclock")[0]!;
    assert.ok(validateSignal(s), `${JSON.stringify(s)}: ${JSON.stringify(validateSignal.errors)}`);
    assert.strictEqual(s.value, 42);
    assert.ok(Math.abs(s.ts - Date.now()) < 60_000, `ts ${new Date(s.ts).toISOString()} is the server's time`);
    assert.deepStrictEqual(rec.errors, []);
  });
});
