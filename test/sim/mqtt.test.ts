/**
 * The vibration sensors read with mqtt.js, Sparkplug B decoded by the independent Eclipse Tahu
 * encoder/decoder (sparkplug-payload): JSON and Sparkplug values agree with the line, timestamps
 * follow the simulated clock, and an mqtt_offline fault shows as NDEATH / "offline" at its label
 * start, silence inside the window and a fresh NBIRTH (next bdSeq) after its end.
 */
import * as assert from "assert";
import * as mqtt from "mqtt";
import { FaultPlan, SENSORS, edgeNodeId, jsonDataTopic, jsonStatusTopic, startSimulator, type FaultKind, type Sample, type Simulator } from "../../cli/sim";
import { itWithMosquitto } from "../helpers/interop";
import { delay, startAedes, startMosquitto, waitFor, type Broker } from "../helpers/peers";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tahu = require("sparkplug-payload").get("spBv1.0") as { decodePayload(b: Uint8Array): TahuPayload; encodePayload(p: unknown): Uint8Array };
interface TahuPayload {
  timestamp?: { toNumber(): number } | number;
  seq?: { toNumber(): number } | number;
  metrics: Array<{ name?: string; alias?: { toNumber(): number } | number; type: string; value: unknown }>;
}
const num = (v: unknown): number => (typeof v === "object" && v !== null && "toNumber" in v ? (v as { toNumber(): number }).toNumber() : Number(v));

interface Received {
  topic: string;
  payload: Buffer;
  /** Simulated time when it arrived. */
  simTs: number;
  retain: boolean;
  wall: number;
}

async function subscriber(url: string, sim: () => Simulator | undefined, into: Received[]): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  c.on("message", (topic, payload, packet) => into.push({ topic, payload, simTs: sim()?.line.ts ?? 0, retain: packet.retain, wall: Date.now() }));
  await c.subscribeAsync(["otbridge/#", "spBv1.0/#"], { qos: 1 });
  return c;
}

describe("sim: MQTT sensors", function () {
  this.timeout(30_000);

  it("JSON and Sparkplug B carry the line's vibration values on the simulated time line", async () => {
    const broker = await startAedes();
    const got: Received[] = [];
    let sim: Simulator | undefined;
    const sub = await subscriber(broker.url, () => sim, got);
    const samples = new Map<number, Sample>();
    sim = await startSimulator({ seed: 2, speed: 50, mqttUrl: broker.url, protocols: { mqtt: true, opcua: false, modbus: false } });
    sim.on("sample", (s: Sample) => samples.set(s.ts, s));
    try {
      // 5 s of wall time (250 simulated seconds): the speed is measured on arrival times, so one
      // stall of a loaded machine must be small against the span.
      await waitFor(() => got.filter((m) => m.topic === jsonDataTopic("vib-de")).length >= 250, 20_000, "250 JSON messages");
    } finally {
      await sim.stop();
      await sub.endAsync();
      await broker.close();
    }
    const jsonMsgs = got.filter((m) => m.topic === jsonDataTopic("vib-de"));
    const json = jsonMsgs.map((m) => JSON.parse(m.payload.toString()));
    for (const [i, m] of json.entries()) {
      assert.strictEqual(m.unit, "g");
      assert.strictEqual(m.tag, "pump1.vibration.de_rms");
      assert.strictEqual(typeof m.rms, "number");
      assert.ok(Number.isInteger(m.ts));
      if (i > 0) assert.strictEqual(m.ts - json[i - 1].ts, 1000, "one message per simulated second, none lost");
      if (samples.has(m.ts)) assert.strictEqual(m.rms, samples.get(m.ts)!.values["pump1.vibration.de_rms"]);
      assert.ok(m.rms > 0.1 && m.rms < 0.5, `plausible RMS ${m.rms} g`);
    }
    // Simulated time runs `speed` times faster than the wall clock.
    const simSpan = json[json.length - 1].ts - json[0].ts;
    const wall = jsonMsgs[jsonMsgs.length - 1].wall - jsonMsgs[0].wall;
    assert.ok(simSpan / wall > 50 * 0.75 && simSpan / wall < 50 * 1.25, `simulated ${simSpan} ms in ${wall} ms wall at speed 50`);

    const node = edgeNodeId("vib-de");
    const birth = got.find((m) => m.topic === `spBv1.0/otbridge/NBIRTH/${node}`);
    assert.ok(birth, "NBIRTH seen");
    const b = tahu.decodePayload(birth!.payload);
    assert.strictEqual(num(b.seq), 0);
    const rmsDef = b.metrics.find((m) => m.name === "rms")!;
    assert.strictEqual(rmsDef.type, "Double");
    assert.ok(b.metrics.some((m) => m.name === "bdSeq" && m.type === "UInt64"));
    assert.ok(b.metrics.some((m) => m.name === "Node Control/Rebirth" && m.type === "Boolean"));
    const data = got.filter((m) => m.topic === `spBv1.0/otbridge/NDATA/${node}`).map((m) => tahu.decodePayload(m.payload));
    assert.ok(data.length >= 50);
    const byTs = new Map(json.map((m) => [m.ts as number, m.rms as number]));
    let matched = 0;
    data.forEach((d, i) => {
      assert.strictEqual(num(d.seq), (i + 1) % 256, "seq follows NBIRTH's 0 without gaps");
      const metric = d.metrics[0];
      assert.strictEqual(num(metric.alias), num(rmsDef.alias));
      assert.strictEqual(metric.type, "Double");
      const ts = num(d.timestamp);
      if (byTs.has(ts)) {
        assert.strictEqual(metric.value, byTs.get(ts));
        matched++;
      }
    });
    assert.ok(matched >= 40, `${matched} Sparkplug values matched their JSON twin`);
    assert.ok(got.some((m) => m.topic === jsonStatusTopic("vib-de") && m.payload.toString() === "online"));
  });

  it("mqtt_offline: NDEATH and 'offline' at the label start, silence inside, NBIRTH with the next bdSeq after", async () => {
    const broker = await startAedes();
    const got: Received[] = [];
    let sim: Simulator | undefined;
    const sub = await subscriber(broker.url, () => sim, got);
    sim = await startSimulator({ seed: 6, speed: 20, faults: ["mqtt_offline"], plan: { warmupMs: 3000, gapMs: [5000, 6000] }, mqttUrl: broker.url, protocols: { mqtt: true, opcua: false, modbus: false } });
    try {
      // Two faults ended and each sensor back (its NBIRTH and data arrived): the test waits for
      // arrivals, not for a stretch of simulated time, which passes 20 times faster than a
      // loaded machine delivers.
      const back = (l: { tag: string; end: number }): boolean =>
        got.some((m) => m.topic === `spBv1.0/otbridge/NBIRTH/${edgeNodeId(l.tag)}` && m.simTs >= l.end) && got.some((m) => m.topic === jsonDataTopic(l.tag) && m.simTs > l.end + 1000);
      await waitFor(() => sim!.labels().filter((l) => l.end < sim!.line.ts && back(l)).length >= 2, 30_000, "two mqtt_offline faults to end and their sensors to come back");
    } finally {
      await sim.stop();
      await sub.endAsync();
      await broker.close();
    }
    const labels = sim.labels().filter((l) => l.end < sim!.line.ts).slice(0, 2);
    assert.strictEqual(labels.length, 2);
    const step = 1000;
    for (const l of labels) {
      assert.strictEqual(l.fault, "mqtt_offline");
      const node = edgeNodeId(l.tag);
      // Arrival inside the label (20-60 s of simulated time, 1-3 s of wall time at speed 20).
      const arrivedInside = (m: Received): boolean => m.simTs >= l.start - step && m.simTs < l.end;
      const deaths = got.filter((m) => m.topic === `spBv1.0/otbridge/NDEATH/${node}` && arrivedInside(m));
      assert.strictEqual(deaths.length, 1, `one NDEATH for ${node} at the label start`);
      const death = tahu.decodePayload(deaths[0].payload);
      const bdSeq = num(death.metrics.find((m) => m.name === "bdSeq")!.value);
      assert.ok(got.some((m) => m.topic === jsonStatusTopic(l.tag) && m.payload.toString() === "offline" && arrivedInside(m)));
      // By the time stamped in the data, not its arrival: on a loaded machine a value sent before
      // the drop-off may arrive inside the window.
      const stamp = (m: Received): number => (m.topic.startsWith("spBv1.0/") ? num(tahu.decodePayload(m.payload).timestamp) : (JSON.parse(m.payload.toString()) as { ts: number }).ts);
      const inside = got.filter((m) => (m.topic === `spBv1.0/otbridge/NDATA/${node}` || m.topic === jsonDataTopic(l.tag)) && stamp(m) > l.start + 2 * step && stamp(m) < l.end);
      assert.strictEqual(inside.length, 0, `no data from ${l.tag} while offline`);
      const rebirth = got.find((m) => m.topic === `spBv1.0/otbridge/NBIRTH/${node}` && m.simTs >= l.end);
      assert.ok(rebirth, "NBIRTH after the label end");
      // 20 s of simulated time is 1 s of wall time: the sensor reconnects at the label end.
      assert.ok(rebirth!.simTs <= l.end + 20 * step, `reborn at ${rebirth!.simTs - l.end} ms after the label end`);
      assert.strictEqual(num(tahu.decodePayload(rebirth!.payload).metrics.find((m) => m.name === "bdSeq")!.value), (bdSeq + 1) % 256, "bdSeq moves on by one");
      assert.ok(got.some((m) => m.topic === jsonDataTopic(l.tag) && m.simTs > l.end + step), "data resumes");
      // The other sensor never stopped.
      const other = l.tag === "vib-de" ? "vib-nde" : "vib-de";
      assert.ok(got.filter((m) => m.topic === jsonDataTopic(other) && m.simTs > l.start && m.simTs < l.end).length > 5);
    }
  });

  for (const kind of ["nan", "out_of_range", "stuck_sensor"] as FaultKind[]) {
    it(`${kind} on a vibration channel: exactly the messages inside the label window carry it`, async () => {
      // The first seed whose first fault of this kind hits a vibration sensor (the plan is pure).
      const plan = { warmupMs: 2000, gapMs: [2000, 3000] as [number, number] };
      const startTs = Date.UTC(2026, 0, 1);
      const scenario = { name: `custom:${kind}`, description: "", kinds: [kind] };
      let seed = 1;
      while (!SENSORS.some((x) => x.tag === new FaultPlan(scenario, seed, startTs, plan).next()!.tag)) seed++;
      const broker = await startAedes();
      const got: Received[] = [];
      const sub = await subscriber(broker.url, () => undefined, got);
      const sim = await startSimulator({ seed, speed: 100, startTs, faults: [kind], plan, mqttUrl: broker.url, sensorFormat: "json", protocols: { mqtt: true, opcua: false, modbus: false } });
      try {
        await waitFor(() => sim.labels().length > 0 && sim.line.ts > sim.labels()[0].end + 5000, 10_000, "the first fault to end");
      } finally {
        await sim.stop();
        await sub.endAsync();
        await broker.close();
      }
      const label = sim.labels()[0];
      const sensor = SENSORS.find((x) => x.tag === label.tag)!;
      const msgs = got.filter((m) => m.topic === jsonDataTopic(sensor.name)).map((m) => JSON.parse(m.payload.toString()) as { ts: number; rms: number | null });
      const inside = msgs.filter((m) => m.ts >= label.start && m.ts < label.end);
      // Outside every label of this sensor: the simulator keeps running until it is stopped, and on
      // a loaded machine the stop comes late enough for later faults to hit the same sensor (CI
      // beside two hogs, 5 December).
      const labelled = sim.labels().filter((l) => l.tag === label.tag || l.tags.includes(label.tag));
      const outside = msgs.filter((m) => labelled.every((l) => m.ts < l.start || m.ts >= l.end));
      assert.strictEqual(inside.length, (label.end - label.start) / 1000, "one message per simulated second of the window");
      assert.ok(outside.length >= 6, `${outside.length} messages around the window`);
      const normal = (v: number | null): boolean => typeof v === "number" && v > 0.1 && v < 0.6;
      assert.ok(outside.every((m) => normal(m.rms)), "plausible values outside the window");
      if (kind === "nan") assert.ok(inside.every((m) => m.rms === null), "NaN travels as null in JSON");
      if (kind === "out_of_range") assert.ok(inside.every((m) => m.rms === label.params!.value && (m.rms! > 2 || m.rms! < 0)), "beyond the 0..2 g range");
      if (kind === "stuck_sensor") assert.ok(inside.every((m) => m.rms === inside[0].rms), "flatline");
    });
  }

  it("answers a Node Control/Rebirth command with a fresh NBIRTH and restarts seq", async () => {
    const broker = await startAedes();
    const got: Received[] = [];
    let sim: Simulator | undefined;
    const sub = await subscriber(broker.url, () => sim, got);
    sim = await startSimulator({ speed: 20, mqttUrl: broker.url, protocols: { mqtt: true, opcua: false, modbus: false } });
    const node = edgeNodeId("vib-nde");
    const births = (): Received[] => got.filter((m) => m.topic === `spBv1.0/otbridge/NBIRTH/${node}`);
    try {
      await waitFor(() => got.filter((m) => m.topic === `spBv1.0/otbridge/NDATA/${node}`).length >= 3, 5000, "NDATA");
      assert.strictEqual(births().length, 1);
      // A garbage command is ignored, not fatal.
      await sub.publishAsync(`spBv1.0/otbridge/NCMD/${node}`, Buffer.from([0xff, 0x01, 0x02]));
      await sub.publishAsync(`spBv1.0/otbridge/NCMD/${node}`, Buffer.from(tahu.encodePayload({ timestamp: Date.now(), metrics: [{ name: "Node Control/Rebirth", type: "Boolean", value: true }] })));
      await waitFor(() => births().length === 2, 5000, "a second NBIRTH");
      const after = got.indexOf(births()[1]);
      await waitFor(() => got.slice(after).some((m) => m.topic === `spBv1.0/otbridge/NDATA/${node}`), 5000, "NDATA after the rebirth");
    } finally {
      await sim.stop();
      await sub.endAsync();
      await broker.close();
    }
    assert.strictEqual(num(tahu.decodePayload(births()[1].payload).seq), 0);
    const next = got.slice(got.indexOf(births()[1])).find((m) => m.topic === `spBv1.0/otbridge/NDATA/${node}`)!;
    assert.strictEqual(num(tahu.decodePayload(next.payload).seq), 1);
  });

  it("starts an embedded broker on loopback when no URL is given", async () => {
    const sim = await startSimulator({ speed: 20, mqttPort: 0, protocols: { mqtt: true, opcua: false, modbus: false } });
    try {
      assert.match(sim.mqttUrl!, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
      const c = await mqtt.connectAsync(sim.mqttUrl!, { reconnectPeriod: 0 });
      const first = new Promise<string>((resolve) => c.on("message", (_t, p) => resolve(p.toString())));
      await c.subscribeAsync(jsonDataTopic("vib-nde"));
      assert.strictEqual(JSON.parse(await first).tag, "pump1.vibration.nde_rms");
      await c.endAsync();
    } finally {
      await sim.stop();
    }
  });

  itWithMosquitto("after each broker restart a sensor is reborn with the next bdSeq", async () => {
    const mosq = await startMosquitto();
    const sim = await startSimulator({ speed: 20, mqttUrl: mosq.url, protocols: { mqtt: true, opcua: false, modbus: false } });
    const got: Received[] = [];
    let sub: mqtt.MqttClient | undefined;
    const node = edgeNodeId("vib-de");
    try {
      await delay(300);
      await mosq.stop();
      await mosq.restart();
      // Subscribe before the sensors' reconnect (mqtt.js retries every second).
      sub = await subscriber(mosq.url, () => sim, got);
      await waitFor(() => got.some((m) => m.topic === `spBv1.0/otbridge/NBIRTH/${node}`), 8000, "NBIRTH after the broker restart");
      const birth = tahu.decodePayload(got.find((m) => m.topic === `spBv1.0/otbridge/NBIRTH/${node}`)!.payload);
      assert.strictEqual(num(birth.metrics.find((m) => m.name === "bdSeq")!.value), 1, "the second session is bdSeq 1");
      // A crash of the broker this time: again a new session, again the next bdSeq.
      await mosq.kill();
      await mosq.restart();
      await sub.endAsync();
      got.length = 0;
      sub = await subscriber(mosq.url, () => sim, got);
      await waitFor(() => got.some((m) => m.topic === `spBv1.0/otbridge/NBIRTH/${node}`), 8000, "NBIRTH after the second restart");
      const again = tahu.decodePayload(got.find((m) => m.topic === `spBv1.0/otbridge/NBIRTH/${node}`)!.payload);
      assert.strictEqual(num(again.metrics.find((m) => m.name === "bdSeq")!.value), 2);
    } finally {
      await sim.stop();
      await sub?.endAsync();
      await mosq.close();
    }
  });

  itWithMosquitto("publishes to an external broker (Debian's mosquitto) given by URL", async () => {
    const mosq: Broker = await startMosquitto();
    const got: Received[] = [];
    const sub = await subscriber(mosq.url, () => undefined, got);
    const sim = await startSimulator({ speed: 20, mqttUrl: mosq.url, protocols: { mqtt: true, opcua: false, modbus: false } });
    try {
      await waitFor(() => got.filter((m) => m.topic.startsWith("spBv1.0/otbridge/NDATA/")).length >= 4, 5000, "NDATA via mosquitto");
    } finally {
      await sim.stop();
      await delay(100);
      await sub.endAsync();
      await mosq.close();
    }
    assert.ok(got.some((m) => m.topic === `spBv1.0/otbridge/NDEATH/${edgeNodeId("vib-de")}`), "a clean stop still says NDEATH");
  });
});
