/**
 * Retrofit vibration sensors on MQTT, each its own client (so one can drop off alone):
 *
 * JSON (format "json" or "both"):
 *   otbridge/<line>/sensors/<sensor>/data    {"sensor","tag","ts","rms","unit":"g","seq"}  QoS 0
 *                                             (NaN travels as "rms": null: JSON has no NaN)
 *   otbridge/<line>/sensors/<sensor>/status  "online" | "offline", retained; "offline" is the will
 * Sparkplug B (format "sparkplug" or "both"), codec nodes/shared/sparkplug.ts:
 *   spBv1.0/<group>/NBIRTH|NDATA|NDEATH/<line>-<sensor>, group "otbridge"; each sensor is an
 *   edge node. NBIRTH: bdSeq, "Node Control/Rebirth", "rms" (Double, alias 1, g).
 *   NDATA: "rms" by alias, seq 0..255 wrapping. NDEATH (bdSeq) is the MQTT will, so a sensor that
 *   drops off (mqtt_offline fault) dies on the broker as a real one does; a Rebirth NCMD gets a
 *   fresh NBIRTH.
 */
import * as mqtt from "mqtt";
import { DataType, buildTopic, decodePayload, encodePayload, type SparkplugMetric } from "../../nodes/shared/sparkplug";
import type { Sample } from "./line";
import { LINE_NAME } from "./tags";

export type SensorFormat = "json" | "sparkplug" | "both";
export const SPARKPLUG_GROUP = "otbridge";

export const SENSORS = [
  { name: "vib-de", tag: "pump1.vibration.de_rms" },
  { name: "vib-nde", tag: "pump1.vibration.nde_rms" },
] as const;

export function jsonDataTopic(sensor: string, line = LINE_NAME): string {
  return `otbridge/${line}/sensors/${sensor}/data`;
}
export function jsonStatusTopic(sensor: string, line = LINE_NAME): string {
  return `otbridge/${line}/sensors/${sensor}/status`;
}
export function edgeNodeId(sensor: string, line = LINE_NAME): string {
  return `${line}-${sensor}`;
}

const RMS_ALIAS = 1;

class Sensor {
  private client: mqtt.MqttClient | null = null;
  private bdSeq = 0;
  private seq = 0;
  private jsonSeq = 0;
  online = false;
  published = 0;
  errors = 0;
  /** The last reading, repeated in a (re)birth so that a birth never reports a made-up value. */
  private last: { ts: number; value: number } | null = null;

  constructor(
    readonly name: string,
    readonly tag: string,
    private readonly url: string,
    private readonly format: SensorFormat,
    private readonly line: string,
    /** The simulator's clock: births and deaths are stamped on the same time line as the data. */
    private readonly now: () => number = () => Date.now(),
  ) {}

  private get sparkplug(): boolean {
    return this.format !== "json";
  }
  private get json(): boolean {
    return this.format !== "sparkplug";
  }
  private topic(type: "NBIRTH" | "NDATA" | "NDEATH" | "NCMD"): string {
    return buildTopic({ group: SPARKPLUG_GROUP, type, edgeNode: edgeNodeId(this.name, this.line) });
  }

  private will(): mqtt.IClientOptions["will"] {
    // Sparkplug allows one will per connection; when both formats run, the JSON status gets an
    // explicit "offline" on a clean stop and the Sparkplug NDEATH is the will.
    return this.sparkplug
      ? { topic: this.topic("NDEATH"), payload: Buffer.from(encodePayload({ timestamp: this.now(), metrics: [{ name: "bdSeq", datatype: DataType.UInt64, value: this.bdSeq }] })), qos: 1, retain: false }
      : { topic: jsonStatusTopic(this.name, this.line), payload: Buffer.from("offline"), qos: 1, retain: true };
  }

  async connect(): Promise<void> {
    const client = mqtt.connect(this.url, {
      clientId: `otbridge-sim-${this.line}-${this.name}-${process.pid}`,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      will: this.will(),
    });
    // Every new MQTT session is a new Sparkplug session: when mqtt.js reconnects on its own
    // (broker restart), the next NBIRTH and the will carry the next bdSeq.
    client.on("close", () => {
      if (this.client !== client || !this.online) return;
      this.bdSeq = (this.bdSeq + 1) % 256;
      client.options.will = this.will();
    });
    client.on("error", () => {
      this.errors++;
    });
    client.on("connect", () => {
      this.online = true;
      this.birth();
    });
    client.on("close", () => {
      this.online = false;
    });
    client.on("message", (topic, payload) => this.onCommand(topic, payload));
    this.client = client;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`MQTT broker ${this.url} did not accept sensor ${this.name} within 5 s`)), 5000);
      client.once("connect", () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private birth(): void {
    const c = this.client!;
    if (this.json) c.publish(jsonStatusTopic(this.name, this.line), "online", { qos: 1, retain: true });
    if (!this.sparkplug) return;
    c.subscribe(this.topic("NCMD"), { qos: 0 });
    this.seq = 0;
    const metrics: SparkplugMetric[] = [
      { name: "bdSeq", datatype: DataType.UInt64, value: this.bdSeq },
      { name: "Node Control/Rebirth", datatype: DataType.Boolean, value: false },
      this.last && Number.isFinite(this.last.value)
        ? { name: "rms", alias: RMS_ALIAS, datatype: DataType.Double, value: this.last.value, timestamp: this.last.ts }
        : { name: "rms", alias: RMS_ALIAS, datatype: DataType.Double, isNull: true },
    ];
    c.publish(this.topic("NBIRTH"), Buffer.from(encodePayload({ timestamp: this.now(), seq: this.seq, metrics })), { qos: 0 });
  }

  private onCommand(topic: string, payload: Buffer): void {
    if (topic !== this.topic("NCMD")) return;
    try {
      const cmd = decodePayload(payload);
      if (cmd.metrics.some((m) => m.name === "Node Control/Rebirth" && m.value === true)) this.birth();
    } catch {
      this.errors++; // a malformed command is ignored, never fatal
    }
  }

  publish(ts: number, value: number): void {
    this.last = { ts, value };
    const c = this.client;
    if (!c || !this.online) return;
    if (this.json) {
      const body = { sensor: this.name, tag: this.tag, ts, rms: Number.isFinite(value) ? value : null, unit: "g", seq: this.jsonSeq++ };
      c.publish(jsonDataTopic(this.name, this.line), JSON.stringify(body), { qos: 0 });
    }
    if (this.sparkplug) {
      this.seq = (this.seq + 1) % 256;
      const payload = encodePayload({ timestamp: ts, seq: this.seq, metrics: [{ alias: RMS_ALIAS, timestamp: ts, datatype: DataType.Double, value }] });
      c.publish(this.topic("NDATA"), Buffer.from(payload), { qos: 0 });
    }
    this.published++;
  }

  /**
   * Stops publishing at once, when the fault starts: the drop-off itself waits its turn behind the
   * simulator's other network actions (a reconnect may be under way), and the label says no data
   * from the label start.
   */
  silence(): void {
    this.online = false;
  }

  /** Drops off the network without a DISCONNECT, so the broker sends the will (NDEATH / offline). */
  async dropOff(): Promise<void> {
    const c = this.client;
    this.client = null;
    this.online = false;
    if (!c) return;
    // With both formats the JSON status cannot be a second will: say it just before dropping.
    if (this.json && this.sparkplug) await c.publishAsync(jsonStatusTopic(this.name, this.line), "offline", { qos: 1, retain: true }).catch(() => undefined);
    await c.endAsync(true).catch(() => undefined);
  }

  /** Comes back with the next bdSeq. */
  async reconnect(): Promise<void> {
    if (this.client) return;
    this.bdSeq = (this.bdSeq + 1) % 256;
    await this.connect();
  }

  /** Clean stop: NDEATH / offline said explicitly, then DISCONNECT. */
  async stop(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (!c) return;
    if (c.connected) {
      if (this.json) await c.publishAsync(jsonStatusTopic(this.name, this.line), "offline", { qos: 1, retain: true }).catch(() => undefined);
      if (this.sparkplug)
        await c.publishAsync(this.topic("NDEATH"), Buffer.from(encodePayload({ timestamp: this.now(), metrics: [{ name: "bdSeq", datatype: DataType.UInt64, value: this.bdSeq }] }))).catch(() => undefined);
    }
    await c.endAsync(!c.connected).catch(() => undefined);
  }
}

export class MqttSensors {
  readonly sensors: Sensor[];

  constructor(url: string, format: SensorFormat, line = LINE_NAME, now?: () => number) {
    this.sensors = SENSORS.map((s) => new Sensor(s.name, s.tag, url, format, line, now));
  }

  async start(): Promise<void> {
    await Promise.all(this.sensors.map((s) => s.connect()));
  }

  publish(sample: Sample): void {
    for (const s of this.sensors) {
      const v = sample.values[s.tag];
      if (typeof v === "number") s.publish(sample.ts, v);
    }
  }

  find(name: string): Sensor | undefined {
    return this.sensors.find((s) => s.name === name);
  }

  async stop(): Promise<void> {
    await Promise.all(this.sensors.map((s) => s.stop()));
  }
}
