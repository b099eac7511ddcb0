/**
 * The simulator's OPC UA server read with an independent node-opcua client: the address space is
 * browsable as Objects/<line>/<asset>/<tag>, analog tags carry EURange and EngineeringUnits,
 * values have the catalog's types and simulated source timestamps, a sensor failure turns its
 * tag BadSensorFailure inside the label window only, and a restart drops the server and brings
 * it back on the same port. One server for the whole file (node-opcua starts slowly).
 */
import * as assert from "assert";
import {
  AttributeIds,
  BrowseDirection,
  DataType,
  OPCUAClient,
  StatusCodes,
  makeBrowsePath,
  type ClientSession,
  type DataValue,
} from "node-opcua";
import { OPCUA_TAGS, opcuaNodeId, startSimulator, type Label, type Simulator } from "../../cli/sim";
import { canConnect, delay, waitFor } from "../helpers/peers";

const SPEED = 20;
let lost = 0;
const STEP = 1000;

interface Connection {
  client: OPCUAClient;
  session: ClientSession;
  dead: boolean;
}

async function open(url: string): Promise<Connection> {
  const client = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 }, requestedSessionTimeout: 10_000 });
  await client.connect(url);
  const session = await client.createSession();
  const conn: Connection = { client, session, dead: false };
  client.on("connection_lost", () => {
    lost++;
    conn.dead = true;
  });
  return conn;
}

async function close(c: Connection | undefined): Promise<void> {
  if (!c) return;
  await c.session.close().catch(() => undefined);
  await c.client.disconnect().catch(() => undefined);
}

describe("sim: OPC UA server", function () {
  this.timeout(40_000);
  let sim: Simulator;
  let conn: Connection | undefined;
  const underFault = (tag: string, ts: number): boolean => sim.labels().some((l) => l.tags.includes(tag) && ts >= l.start - STEP && ts <= l.end + STEP) || sim.line.activeFaults.some((f) => f.fault === "opcua_restart");

  /** The current session, reopened when a restart fault has cut the connection. */
  async function session(): Promise<ClientSession> {
    if (!conn || conn.dead) {
      await close(conn);
      conn = await open(sim.opcuaUrl!);
    }
    return conn.session;
  }

  before(async function () {
    this.timeout(60_000);
    sim = await startSimulator({ seed: 8, speed: SPEED, faults: ["sensor_failure", "opcua_restart"], plan: { warmupMs: 40_000, gapMs: [4000, 6000] }, opcuaPort: 0, protocols: { opcua: true, modbus: false, mqtt: false } });
    conn = await open(sim.opcuaUrl!);
  });

  after(async function () {
    this.timeout(20_000);
    await close(conn);
    await sim?.stop();
  });

  it("listens on 127.0.0.1 at the port it reports", () => {
    assert.match(sim.opcuaUrl!, /^opc\.tcp:\/\/127\.0\.0\.1:\d+$/);
  });

  it("browses Objects/line1/<asset>/<tag> with the documented node ids", async () => {
    const objects = await (await session()).browse({ nodeId: "i=85", browseDirection: BrowseDirection.Forward, resultMask: 63 });
    assert.ok(objects.references!.some((r) => r.browseName.name === "line1" && r.nodeId.toString() === "ns=1;s=line1"));
    for (const asset of [...new Set(OPCUA_TAGS.map((d) => d.asset))]) {
      const res = await (await session()).browse({ nodeId: `ns=1;s=line1.${asset}`, browseDirection: BrowseDirection.Forward, resultMask: 63 });
      const names = res.references!.map((r) => `${r.browseName.name}=${r.nodeId.toString()}`).sort();
      const want = OPCUA_TAGS.filter((d) => d.asset === asset).map((d) => `${d.name}=${opcuaNodeId(d)}`).sort();
      for (const w of want) assert.ok(names.includes(w), `${w} in ${names.join(", ")}`);
    }
  });

  it("analog tags carry EURange and EngineeringUnits from the catalog", async () => {
    for (const def of OPCUA_TAGS.filter((d) => d.type === "Double")) {
      const paths = await (await session()).translateBrowsePath([makeBrowsePath(opcuaNodeId(def), ".EURange"), makeBrowsePath(opcuaNodeId(def), ".EngineeringUnits")]);
      assert.ok(paths.every((p) => p.statusCode.equals(StatusCodes.Good)), `${def.tag} has both properties`);
      const [range, units] = await (await session()).read(paths.map((p) => ({ nodeId: p.targets![0].targetId, attributeId: AttributeIds.Value })));
      assert.deepStrictEqual({ low: range.value.value.low, high: range.value.value.high }, def.range, def.tag);
      assert.strictEqual(units.value.value.displayName.text, def.unit, def.tag);
    }
  });

  it("serves every tag with its data type, Good status, a simulated source timestamp and the line's value", async () => {
    // The simulated clock before and after the read: on a loaded machine the read may take
    // several simulated steps (20 per wall second).
    const sent = sim.line.ts;
    const dvs: DataValue[] = await (await session()).read(OPCUA_TAGS.map((d) => ({ nodeId: opcuaNodeId(d), attributeId: AttributeIds.Value })));
    const now = sim.line;
    OPCUA_TAGS.forEach((def, i) => {
      const dv = dvs[i];
      if (underFault(def.tag, now.ts) || (dv.sourceTimestamp && underFault(def.tag, dv.sourceTimestamp.getTime()))) return;
      assert.ok(dv.statusCode.equals(StatusCodes.Good), `${def.tag}: ${dv.statusCode.name}`);
      assert.strictEqual(DataType[dv.value.dataType], def.type, def.tag);
      const ts = dv.sourceTimestamp!.getTime();
      assert.ok(ts <= now.ts && ts >= sent - 5 * STEP, `${def.tag}: source ${ts} vs simulated ${sent}..${now.ts}`);
      assert.strictEqual(ts % STEP, sim.startTs % STEP, "timestamps sit on the simulated step grid");
      const want = now.values[def.tag];
      if (typeof want === "string") assert.strictEqual(dv.value.value, want, def.tag);
      else if (def.tag === "line.part_count") assert.ok(Math.abs(dv.value.value - (want as number)) <= 2);
      else if (def.range) assert.ok(dv.value.value >= def.range.low && dv.value.value <= def.range.high, `${def.tag} ${dv.value.value} in range`);
    });
    const current = dvs[OPCUA_TAGS.findIndex((d) => d.tag === "pump1.motor.current")].value.value;
    assert.ok(current > 1.5 && current < 3.5, `running motor current ${current} A`);
  });

  it("sensor_failure: the labelled tag reads BadSensorFailure inside its window, Good around it", async () => {
    await waitFor(() => sim.labels().some((l) => l.fault === "sensor_failure"), 20_000, "a sensor_failure label");
    const label = sim.labels().find((l) => l.fault === "sensor_failure")!;
    const reads: Array<{ ts: number; status: string }> = [];
    while (sim.line.ts < label.end + 3 * STEP) {
      const dv = await (await session()).read({ nodeId: opcuaNodeId(OPCUA_TAGS.find((d) => d.tag === label.tag)!), attributeId: AttributeIds.Value });
      // Classified by the simulated time the value carries, not when the read was sent.
      reads.push({ ts: dv.sourceTimestamp!.getTime(), status: dv.statusCode.name });
      await delay(15);
    }
    const inside = reads.filter((r) => r.ts >= label.start + STEP && r.ts < label.end - STEP);
    const after = reads.filter((r) => r.ts >= label.end + STEP);
    assert.ok(inside.length >= 5 && inside.every((r) => r.status === "BadSensorFailure"), JSON.stringify(inside));
    assert.ok(after.length >= 1 && after.every((r) => r.status === "Good"), JSON.stringify(after));
  });

  it("opcua_restart: the server goes away and comes back on the same port; the label holds the real down time", async () => {
    const port = Number(sim.opcuaUrl!.split(":").pop());
    let restartStart = 0;
    await waitFor(
      async () => {
        const f = sim.line.activeFaults.find((a) => a.fault === "opcua_restart");
        restartStart = f?.start ?? 0;
        return f !== undefined && !(await canConnect(port));
      },
      30_000,
      "the restart to begin",
      20,
    );
    // The client saw its connection drop (node-opcua then reconnects on its own).
    await waitFor(() => lost > 0, 5000, "connection_lost on the client");
    await close(conn);
    conn = undefined;
    let label: Label | undefined;
    await waitFor(() => (label = sim.labels().find((l) => l.fault === "opcua_restart" && l.start === restartStart)) !== undefined, 20_000, "the restart label (written once back)");
    assert.ok(await canConnect(port), "listening again on the same port");
    assert.ok(label!.end >= label!.start + 10_000, "planned down time of at least 10 s (simulated)");
    const dv = await (await session()).read({ nodeId: "ns=1;s=line1.pump1.flow", attributeId: AttributeIds.Value });
    assert.ok(dv.statusCode.equals(StatusCodes.Good));
    assert.ok(dv.sourceTimestamp!.getTime() >= label!.end - STEP, "fresh values after the restart");
  });
});
