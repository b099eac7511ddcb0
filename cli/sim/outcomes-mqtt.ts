/**
 * Publishes the filling station on MQTT as JSON, like the vibration sensors, so otb-mqtt-in maps
 * it to Signals with its ordinary topic/field mapping:
 *   otbridge/<line>/filler/part    {ts, volume, unit:"ml", seq}            one per part
 *   otbridge/<line>/filler/status  {ts, state, fault_code, parts_total, parts_reject, seq}  one per step
 */
import mqtt, { type MqttClient } from "mqtt";
import type { Signal } from "../../nodes/shared/types";
import { LINE_NAME } from "./tags";

export const fillerPartTopic = (line = LINE_NAME): string => `otbridge/${line}/filler/part`;
export const fillerStatusTopic = (line = LINE_NAME): string => `otbridge/${line}/filler/status`;

export class FillerPublisher {
  private client: MqttClient | null = null;
  private seq = 0;

  constructor(private readonly url: string, private readonly line = LINE_NAME) {}

  async start(): Promise<void> {
    this.client = await mqtt.connectAsync(this.url, { clientId: `otbridge-sim-filler-${process.pid}-${Date.now() % 1e6}`, reconnectPeriod: 1000 });
  }

  publish(signals: Signal[]): void {
    const c = this.client;
    if (!c || !c.connected) return;
    const status: Record<string, unknown> = {};
    for (const s of signals) {
      if (s.tag === "filler.volume") c.publish(fillerPartTopic(this.line), JSON.stringify({ ts: s.ts, volume: s.value, unit: "ml", seq: this.seq++ }), { qos: 0 });
      else {
        status.ts = s.ts;
        status[s.tag.replace(/^line\.(oee_)?/, "")] = s.value;
      }
    }
    if (status.ts !== undefined) c.publish(fillerStatusTopic(this.line), JSON.stringify({ ...status, seq: this.seq++ }), { qos: 0 });
  }

  async stop(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.endAsync().catch(() => undefined);
  }
}
