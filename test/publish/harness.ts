/**
 * Test tools for the conduit: build one from an editor-style definition, an independent mqtt.js
 * subscriber that counts what really arrived (per topic, in order), a paced producer, a
 * loopback TCP proxy that can black-hole traffic (a half-open link: no FIN, no RST), and a CA,
 * server and client certificates made with openssl.
 */
import { opensslEnv } from "../helpers/peers";
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { connectAsync, type MqttClient } from "mqtt";
import { Conduit } from "../../nodes/otb-conduit/conduit";
import { helper } from "../helpers/red";
import { parseConduitConfig, type ConduitCredentials, type ConduitDef } from "../../nodes/otb-conduit/conduit-config";

/** A fresh folder; readable by all, because mosquitto started as root drops to its own user. */
export function tempDir(prefix = "otb-conduit-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export function makeConduit(def: Partial<ConduitDef> & { broker: string; queueDir: string }, creds: ConduitCredentials = {}): Conduit {
  return new Conduit(parseConduitConfig({
    id: "c1", sourceZone: "L3", targetZone: "DMZ", allowTopics: ["t/#"], commitMs: 5, keepalive: 5,
    connectTimeout: 2, reconnectMax: 1, ...def,
  }, creds, def.queueDir));
}

/** Registers a fake user so that the shared connection opens. */
export function connectUser(conduit: Conduit): void {
  const user = { id: "user1", status: () => undefined, warn: () => undefined } as never;
  conduit.connection.register(user, { onState: () => undefined });
}

export class Counter {
  readonly byTopic = new Map<string, number[]>();
  total = 0;
  duplicates = 0;
  outOfOrder = 0;
  private readonly seen = new Set<string>();
  /** The subscriber's link events after it connected (drops, reconnects): a failure names them. */
  readonly events: string[] = [];

  constructor(readonly client: MqttClient, numberOf: (body: Record<string, unknown>) => number = (b) => b.n as number) {
    const t0 = Date.now();
    for (const e of ["close", "offline", "reconnect", "disconnect", "end"]) {
      client.on(e as "close", (x?: unknown) => this.events.push(`${Date.now() - t0}ms ${e} ${x instanceof Error ? x.message : (x as { reasonCode?: number })?.reasonCode ?? ""} total=${this.total}`));
    }
    client.on("connect", (ack) => this.events.push(`${Date.now() - t0}ms connect sp=${ack.sessionPresent} total=${this.total}`));
    client.on("message", (topic, payload) => {
      const n = numberOf(JSON.parse(payload.toString()) as Record<string, unknown>);
      const key = `${topic}#${n}`;
      if (this.seen.has(key)) {
        this.duplicates++;
        return;
      }
      this.seen.add(key);
      const list = this.byTopic.get(topic) ?? [];
      if (list.length > 0 && list[list.length - 1] > n) this.outOfOrder++;
      list.push(n);
      this.byTopic.set(topic, list);
      this.total++;
    });
  }

  /** The `topic#n` keys of records 0..total-1 (spread round-robin over topics) never received. */
  missing(total: number, topics: string[]): string[] {
    const out: string[] = [];
    for (let n = 0; n < total; n++) {
      const key = `${topics[n % topics.length]}#${n}`;
      if (!this.seen.has(key)) out.push(key);
    }
    return out;
  }

  /** Unique messages received. */
  get unique(): number {
    return this.seen.size;
  }

  static async start(url: string, filter = "#", opts: Record<string, unknown> = {},
    numberOf?: (body: Record<string, unknown>) => number): Promise<Counter> {
    const client = await connectAsync(url, { protocolVersion: 5, clientId: `counter-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 200, ...opts });
    await client.subscribeAsync(filter, { qos: 1 });
    return new Counter(client, numberOf);
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Submits `total` records over `topics` at about `rate` per second; resolves with how many were accepted. */
export async function produce(conduit: Conduit, total: number, rate: number, topics = ["t/a", "t/b", "t/c"], start = 0): Promise<number> {
  const batch = Math.max(1, Math.round(rate / 100)); // one batch every 10 ms
  const pending: Array<Promise<number>> = [];
  const began = Date.now();
  for (let n = start; n < start + total; n += batch) {
    const records = [];
    for (let k = n; k < Math.min(start + total, n + batch); k++) {
      records.push({ ts: Date.now(), kind: 0, topic: topics[k % topics.length], payload: Buffer.from(JSON.stringify({ n: k, pad: "x".repeat(100) })) });
    }
    pending.push(conduit.submit(records).then((r) => r.accepted));
    const wait = began + ((n - start + batch) / rate) * 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return (await Promise.all(pending)).reduce((a, b) => a + b, 0);
}

/** produced = delivered + quarantined + dropped + queued, on the conduit's own counters. */
export function assertInvariant(conduit: Conduit): void {
  const s = conduit.stats();
  // expired: past the queue's max age; corruptLive: lost to damage found while running (see durable-queue.ts).
  assert.equal(s.recovered + s.produced, s.delivered + s.quarantined + s.dropped + s.expired + s.corruptLive + s.queued, JSON.stringify(s));
}

/** A loopback TCP proxy whose traffic can be black-holed (dropped silently, connections kept). */
export class BlackHoleProxy {
  blackHole = false;
  private readonly sockets = new Set<net.Socket>();
  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(targetPort: number): Promise<BlackHoleProxy> {
    let proxy: BlackHoleProxy | null = null;
    const server = net.createServer((client) => {
      const upstream = net.connect(targetPort, "127.0.0.1");
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        proxy!.sockets.add(from);
        from.on("data", (chunk) => {
          if (!proxy!.blackHole) to.write(chunk);
        });
        from.on("error", () => to.destroy());
        from.on("close", () => {
          proxy!.sockets.delete(from);
          to.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    proxy = new BlackHoleProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCa: string;
}

/** A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and an unrelated CA. */
export function makePki(): Pki {
  const dir = tempDir("otb-pki-");
  const p = (f: string): string => path.join(dir, f);
  const ssl = (...args: string[]): void => {
    try {
      execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"], env: opensslEnv() });
    } catch (err) {
      // Say what openssl said: a bare "Command failed" cannot be diagnosed from a CI log.
      const stderr = String((err as { stderr?: Buffer }).stderr ?? "").trim();
      throw new Error(`openssl ${args.slice(0, 2).join(" ")} failed: ${stderr || (err as Error).message}`);
    }
  };
  for (const ca of ["ca", "other-ca"]) {
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=otb test ${ca}`,
      "-keyout", p(`${ca}.key`), "-out", p(`${ca}.pem`));
  }
  fs.writeFileSync(p("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const who of ["server", "client"]) {
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${who === "server" ? "localhost" : "edge-1"}`,
      "-keyout", p(`${who}.key`), "-out", p(`${who}.csr`));
    ssl("x509", "-req", "-in", p(`${who}.csr`), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial",
      "-days", "2", "-out", p(`${who}.pem`), ...(who === "server" ? ["-extfile", p("server.ext")] : []));
  }
  for (const f of fs.readdirSync(dir)) fs.chmodSync(p(f), 0o644); // test keys only, for mosquitto's user
  return { dir, ca: p("ca.pem"), serverCert: p("server.pem"), serverKey: p("server.key"), clientCert: p("client.pem"),
    clientKey: p("client.key"), otherCa: p("other-ca.pem") };
}

/** Every status a node set, from the helper's spy on Node.prototype.status. */
export function statusesOf(id: string): Array<Record<string, unknown>> {
  const spy = (helper as unknown as { _NodePrototype: { status: { getCalls(): Array<{ thisValue: { id: string }; args: [Record<string, unknown>] }> } } })
    ._NodePrototype.status;
  return spy.getCalls().filter((c) => c.thisValue.id === id).map((c) => c.args[0]);
}
