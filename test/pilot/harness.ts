/**
 * The single-line pilot as the tests (and benchmarks) run it: the simulator on ephemeral ports,
 * Node-RED with flows/single-line-pilot.json in a temporary user folder (exactly what `npm start`
 * does, through the same startPilot), and an independent MQTT subscriber on the conduit broker.
 */
import * as fs from "fs";
import * as mqtt from "mqtt";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../../cli/node-red-runner";
import { startPilot, unsPrefix, type RunningPilot } from "../../cli/pilot-env";

export const PILOT_FLOW = path.join(REPO_ROOT, "flows", "single-line-pilot.json");

export interface TestPilot extends RunningPilot {
  userDir: string;
  log: string[];
  /** `<enterprise>/<site>/<area>/<line>` */
  prefix: string;
  /** Wall time (ms) from the call to Node-RED listening. */
  startedAt: number;
}

export async function startTestPilot(opts: { scenario?: string; seed?: number; speed?: number; minutesBack?: number; baseEnv?: NodeJS.ProcessEnv } = {}): Promise<TestPilot> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-pilot-"));
  const log: string[] = [];
  const startedAt = Date.now();
  const speed = opts.speed ?? 1;
  // A fast run starts in the past so that its simulated clock never overtakes the wall clock: the
  // simulator runs at `speed` until it reaches "now", then at real time. minutesBack / (speed - 1)
  // minutes of wall time is how long a test has at full speed (120 min at 30x: about 4 minutes,
  // enough for a loaded machine; 20 min gave 41 s, which a slow start could use up).
  const startTs = Math.floor((Date.now() - (opts.minutesBack ?? 0) * 60_000) / 1000) * 1000;
  let pilot: RunningPilot;
  try {
    pilot = await startPilot({
      userDir, port: 0, flowTemplate: PILOT_FLOW, resetFlows: true, simulator: true,
      scenario: opts.scenario ?? "normal", seed: opts.seed ?? 1, speed, startTs,
      ports: { opcua: 0, modbus: 0, mqtt: 0 },
      baseEnv: { ...opts.baseEnv },
      log: (l) => log.push(l),
    });
  } catch (err) {
    fs.rmSync(userDir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...pilot,
    userDir,
    log,
    prefix: unsPrefix(pilot.env),
    startedAt,
    stop: async () => {
      await pilot.stop();
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

export interface Received {
  topic: string;
  at: number;
  json: Record<string, unknown>;
}

/** An MQTT client of its own on the conduit's broker: it sees what a DMZ consumer would. */
export class Subscriber {
  readonly messages: Received[] = [];
  private constructor(private readonly client: mqtt.MqttClient) {
    client.on("message", (topic, payload) => {
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
      } catch {
        json = { unparsable: payload.toString("utf8") };
      }
      this.messages.push({ topic, at: Date.now(), json });
    });
  }

  static async connect(url: string, filter: string): Promise<Subscriber> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `otb-pilot-test-${process.pid}-${Date.now()}`, reconnectPeriod: 0 });
    await client.subscribeAsync(filter, { qos: 1 });
    return new Subscriber(client);
  }

  on(suffix: string): Received[] {
    return this.messages.filter((m) => m.topic.endsWith(suffix));
  }

  under(part: string): Received[] {
    return this.messages.filter((m) => m.topic.includes(part));
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => undefined);
  }
}

/** The payload of a conduit record: the JSON envelope or the item itself. */
export function item(m: Received): Record<string, unknown> {
  return m.json;
}
