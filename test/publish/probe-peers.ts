/**
 * Peers for the probe tests: a Sparkplug B host application written from the specification
 * (Sparkplug B 3.0 ch. 5/6), decoding with Eclipse Tahu's decoder rather than the pack's codec,
 * and a TCP proxy that resets every connection through it (RST, no FIN).
 */
import * as net from "net";
import { connectAsync, type MqttClient } from "mqtt";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tahu = require("sparkplug-payload").get("spBv1.0") as { decodePayload(b: Uint8Array): SpPayload; encodePayload(p: unknown): Uint8Array };
interface SpMetric { name?: string; alias?: unknown; type: string; value: unknown; isHistorical?: boolean }
interface SpPayload { seq?: unknown; timestamp?: unknown; metrics: SpMetric[] }

const num = (v: unknown): number => Number(String(v));

/** A Sparkplug host application that checks the edge node against the spec while it listens. */
export class SpecHost {
  readonly violations: string[] = [];
  /** Every value received for the metric `probe.n`, historical or not, in arrival order. */
  readonly values: number[] = [];
  /** Every NDATA metric received, by name. */
  readonly received: Array<{ name: string; value: number }> = [];
  births = 0;
  deaths = 0;
  /** Every message in arrival order: its type and, for BIRTH and DEATH, its bdSeq. */
  readonly log: Array<{ type: string; bdSeq?: number; names?: string[] }> = [];
  private session: { bdSeq: number; seq: number; aliases: Map<string, string> } | null = null;

  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload) => this.onMessage(topic, payload));
  }

  static async start(url: string, group: string): Promise<SpecHost> {
    const client = await connectAsync(url, { protocolVersion: 4, clientId: `spec-host-${process.pid}`, reconnectPeriod: 200 });
    await client.subscribeAsync(`spBv1.0/${group}/#`, { qos: 1 });
    return new SpecHost(client);
  }

  private onMessage(topic: string, payload: Buffer): void {
    const type = topic.split("/")[2];
    let p: SpPayload;
    try {
      p = tahu.decodePayload(payload);
    } catch (err) {
      this.violations.push(`${type}: undecodable (${(err as Error).message})`);
      return;
    }
    const bdSeq = p.metrics.find((m) => m.name === "bdSeq");
    this.log.push({ type, bdSeq: bdSeq ? num(bdSeq.value) : undefined, names: type === "NBIRTH" ? p.metrics.map((m) => m.name ?? "") : undefined });
    if (type === "NBIRTH") {
      this.births++;
      if (!bdSeq) this.violations.push("NBIRTH without bdSeq");
      if (num(p.seq) !== 0) this.violations.push(`NBIRTH seq ${String(p.seq)}, not 0`);
      const aliases = new Map<string, string>();
      for (const m of p.metrics) if (m.name && m.alias !== undefined) aliases.set(String(m.alias), m.name);
      this.session = { bdSeq: num(bdSeq?.value), seq: 0, aliases };
      // A BIRTH carries current values: they are not a delivery of queued records.
    } else if (type === "NDEATH") {
      this.deaths++;
      if (this.session && bdSeq && num(bdSeq.value) !== this.session.bdSeq) return; // a stale will: ignored (spec)
      this.session = null;
    } else if (type === "NDATA") {
      if (!this.session) {
        this.violations.push("NDATA outside a session (before NBIRTH or after NDEATH)");
        return;
      }
      const seq = num(p.seq);
      if (seq !== (this.session.seq + 1) % 256) this.violations.push(`seq ${seq} after ${this.session.seq}`);
      this.session.seq = seq;
      for (const m of p.metrics) {
        const name = m.name ?? this.session.aliases.get(String(m.alias));
        if (name === undefined) this.violations.push(`alias ${String(m.alias)} not in the NBIRTH`);
        if (name === "probe.n") this.values.push(num(m.value));
        if (name !== undefined) this.received.push({ name, value: num(m.value) });
      }
    }
  }

  of(type: string): Array<{ type: string; bdSeq?: number; names?: string[] }> {
    return this.log.filter((m) => m.type === type);
  }

  /** Sparkplug 3.0 STATE: spBv1.0/STATE/<host id>, JSON, QoS 1, retained. */
  async state(hostId: string, online: boolean, timestamp: number): Promise<void> {
    await this.client.publishAsync(`spBv1.0/STATE/${hostId}`, JSON.stringify({ online, timestamp }), { qos: 1, retain: true });
  }

  async rebirth(group: string, edge: string): Promise<void> {
    const payload = tahu.encodePayload({ timestamp: Date.now(), metrics: [{ name: "Node Control/Rebirth", type: "Boolean", value: true }] });
    await this.client.publishAsync(`spBv1.0/${group}/NCMD/${edge}`, Buffer.from(payload), { qos: 0 });
  }

  missing(total: number): number[] {
    const seen = new Set(this.values);
    const out: number[] = [];
    for (let n = 0; n < total; n++) if (!seen.has(n)) out.push(n);
    return out;
  }
}

/** A proxy that can also reset every connection through it (RST, no FIN). */
export class ResettingProxy {
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  resets = 0;
  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(targetPort: number): Promise<ResettingProxy> {
    let proxy: ResettingProxy | null = null;
    const server = net.createServer((client) => {
      const upstream = net.connect(targetPort, "127.0.0.1");
      const pair: [net.Socket, net.Socket] = [client, upstream];
      proxy!.pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      for (const s of pair) {
        s.on("error", () => undefined);
        s.on("close", () => {
          proxy!.pairs.delete(pair);
          client.destroy();
          upstream.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    proxy = new ResettingProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  reset(): void {
    this.resets++;
    for (const [a, b] of this.pairs) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

