/**
 * Historian replay of a real SKAB recording (read in place from /work/shared/datasets/skab):
 * every recorded row reaches MQTT in order on the re-based time line, the energy meter on Modbus
 * reads the recorded motor current, and the recording's anomaly labels become ground truth.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import ModbusRTU from "modbus-serial";
import * as mqtt from "mqtt";
import { LabelWriter } from "../../cli/sim/labels";
import { Line } from "../../cli/sim/line";
import { ReplayError, anomalyRuns, loadReplay } from "../../cli/sim/replay";
import { findScenario } from "../../cli/sim/scenarios";
import { jsonDataTopic, startSimulator } from "../../cli/sim";
import { startAedes, waitFor } from "../helpers/peers";

const SKAB = process.env.OTB_SKAB_DIR ?? path.resolve(__dirname, "..", "..", "..", "..", "shared", "datasets", "skab");
const VALVE = path.join(SKAB, "valve1", "0.csv");

describe("sim: historian replay (SKAB)", function () {
  this.timeout(30_000);
  before(function () {
    if (!fs.existsSync(VALVE)) throw new Error(`SKAB data not found at ${VALVE} (set OTB_SKAB_DIR)`);
  });

  it("reads the SKAB format: ';', datetime, eight sensor columns, anomaly runs", () => {
    const data = loadReplay(VALVE);
    const lines = fs.readFileSync(VALVE, "utf8").trim().split("\n");
    assert.strictEqual(data.rows.length, lines.length - 1);
    assert.strictEqual(Object.keys(data.mappedColumns).length, 8);
    assert.deepStrictEqual(data.ignoredColumns, []);
    assert.strictEqual(data.badRows, 0);
    const first = lines[1].split(";");
    assert.strictEqual(data.rows[0].ts, Date.parse(first[0].replace(" ", "T") + "Z"));
    assert.strictEqual(data.rows[0].values["pump1.motor.current"], Number(first[3]));
    assert.strictEqual(data.rows[0].values["pump1.flow"], Number(first[8]));
    const anomalies = lines.slice(1).filter((l) => l.split(";")[9] === "1.0").length;
    const runs = anomalyRuns(data.rows);
    assert.ok(runs.length >= 1);
    assert.strictEqual(runs.reduce((n, [a, b]) => n + b - a + 1, 0), anomalies);
  });

  it("refuses files it cannot replay with a clear error", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-replay-"));
    const noTime = path.join(dir, "a.csv");
    fs.writeFileSync(noTime, "when;Current\n1;2\n");
    assert.throws(() => loadReplay(noTime), (e: Error) => e instanceof ReplayError && /no datetime column/.test(e.message));
    const unknown = path.join(dir, "b.csv");
    fs.writeFileSync(unknown, "datetime;Foo\n2020-01-01 00:00:00;2\n");
    assert.throws(() => loadReplay(unknown), (e: Error) => e instanceof ReplayError && /no column the simulator knows/.test(e.message));
    const badRow = path.join(dir, "c.csv");
    fs.writeFileSync(badRow, "datetime,Current,Extra\n2020-01-01 00:00:00,2,x\nnot a date,3,y\n2020-01-01 00:00:01,,z\n");
    const d = loadReplay(badRow);
    assert.strictEqual(d.badRows, 1, "the unreadable row is counted");
    assert.deepStrictEqual(d.ignoredColumns, ["Extra"]);
    assert.ok(Number.isNaN(d.rows[1].values["pump1.motor.current"]), "an empty cell replays as NaN");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reads European spreadsheet exports: quoted headers, a ';' inside quotes, CRLF, decimal commas", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-replay-"));
    const file = path.join(dir, "excel.csv");
    fs.writeFileSync(
      file,
      "\uFEFF" +
        ['"datetime";"Current";"Pressure";"Note; operator";"anomaly"',
          '2020-01-01 00:00:00;"1,5";0,25;"pump; started";0',
          '2020-01-01 00:00:01;1,75;"0,5";"said ""ok""";"1,0"',
          "2020-01-01 00:00:02;2;;;0"].join("\r\n") + "\r\n",
    );
    try {
      const d = loadReplay(file);
      assert.deepStrictEqual(d.ignoredColumns, ["Note; operator"]);
      assert.deepStrictEqual(d.rows.map((r) => r.values["pump1.motor.current"]), [1.5, 1.75, 2]);
      assert.deepStrictEqual(d.rows.map((r) => r.values["pump1.discharge.pressure"]), [0.25, 0.5, NaN]);
      assert.deepStrictEqual(d.rows.map((r) => r.anomaly), [false, true, false]);
      assert.deepStrictEqual(d.rows.map((r) => r.ts), [0, 1000, 2000].map((ms) => Date.UTC(2020, 0, 1) + ms));
      assert.strictEqual(d.badRows, 0);
      // ',' files: a quoted "1,500" is no number (fifteen hundred or one and a half?), a quoted ',' is text.
      fs.writeFileSync(file, 'datetime,Current,"Note, free"\n2020-01-01 00:00:00,"1,500","a,b"\n2020-01-01 00:00:01,"2.5",c\n');
      const c = loadReplay(file);
      assert.deepStrictEqual(c.rows.map((r) => r.values["pump1.motor.current"]), [NaN, 2.5]);
      assert.deepStrictEqual(c.ignoredColumns, ["Note, free"]);
      fs.writeFileSync(file, 'datetime;Current\n2020-01-01 00:00:00;"1,5\n2020-01-01 00:00:01;2\n');
      assert.throws(() => loadReplay(file), (e: Error) => e instanceof ReplayError && /line 2: a quoted field is never closed/.test(e.message));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps the recording's own timestamps when asked", () => {
    const data = loadReplay(VALVE);
    const line = new Line({ seed: 1, scenario: findScenario("normal")!, startTs: data.rows[0].ts, labels: new LabelWriter(), replay: data, replayKeepTimestamps: true });
    const s = line.step(data.rows[0].ts, 0);
    assert.strictEqual(s.values["pump1.vibration.de_rms"], data.rows[0].values["pump1.vibration.de_rms"]);
    assert.strictEqual(new Date(s.ts).toISOString(), "2020-03-09T10:14:33.000Z");
  });

  it("plays every row through MQTT and Modbus at 400x, in order, with anomaly labels", async () => {
    const data = loadReplay(VALVE);
    const broker = await startAedes();
    const sub = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    const got: Array<{ ts: number; rms: number }> = [];
    sub.on("message", (_t, p) => got.push(JSON.parse(p.toString())));
    await sub.subscribeAsync(jsonDataTopic("vib-de"), { qos: 0 });
    const startTs = Date.UTC(2026, 5, 1, 8, 0, 0);
    const sim = await startSimulator({ replay: data, speed: 400, startTs, mqttUrl: broker.url, sensorFormat: "json", modbusPort: 0, protocols: { mqtt: true, modbus: true, opcua: false } });
    let ended = false;
    sim.once("replay-end", () => (ended = true));
    const modbus = new ModbusRTU();
    try {
      await waitFor(() => ended, 15_000, "the replay to end");
      await waitFor(() => got.length >= data.rows.length, 3000, "every row on MQTT");
      await modbus.connectTCP("127.0.0.1", { port: sim.modbusPort! });
      modbus.setID(1);
      modbus.setTimeout(1000);
      const res = await modbus.readInputRegisters(2, 2); // meter1.current, float32 CDAB
      const b = Buffer.from([res.buffer[2], res.buffer[3], res.buffer[0], res.buffer[1]]);
      const last = data.rows[data.rows.length - 1].values["pump1.motor.current"];
      assert.strictEqual(b.readFloatBE(0), Math.fround(last), "the meter holds the last recorded current");
    } finally {
      modbus.close(() => undefined);
      await sim.stop();
      await sub.endAsync();
      await broker.close();
    }
    // Re-based: row i was recorded at rows[i].ts and is published at startTs + (rows[i].ts - rows[0].ts).
    const offset = startTs - data.rows[0].ts;
    const byTs = new Map(data.rows.map((r) => [r.ts + offset, r.values["pump1.vibration.de_rms"]]));
    let matched = 0;
    for (const m of got) {
      if (byTs.has(m.ts)) {
        assert.strictEqual(m.rms, byTs.get(m.ts), `row at ${new Date(m.ts).toISOString()}`);
        matched++;
      }
    }
    assert.strictEqual(matched, data.rows.length, `every recorded row was published once, on its own timestamp (${matched} of ${data.rows.length}, ${got.length} messages)`);
    for (let i = 1; i < got.length; i++) assert.ok(got[i].ts > got[i - 1].ts, "in time order");
    const labels = sim.labels().filter((l) => l.fault === "anomaly");
    const runs = anomalyRuns(data.rows);
    assert.strictEqual(labels.length, runs.length);
    assert.strictEqual(labels[0].start, data.rows[runs[0][0]].ts + offset);
    assert.strictEqual(labels[0].end, data.rows[runs[0][1]].ts + offset + 1000);
  });
});
