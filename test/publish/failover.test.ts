/**
 * Issue 19, scaling out: an otb-conduit that names several brokers (the members of a cluster, or
 * an active/standby pair) fails over between them with nothing lost. Two Debian mosquitto
 * processes, a verifier subscribed to each; a numbered stream goes through a real otb-publish
 * while the machine is loaded; the active broker is killed with SIGKILL mid-stream. Every number
 * must arrive at least once across the two verifiers. A SIGKILL of mosquitto (persistence off)
 * between its PUBACK and the subscriber reading the message loses records it had acknowledged
 * (seen: 16-18 of 9,000 in two of about ten runs before the re-send window); so after a failover
 * the conduit re-sends its last acknowledged records to the new broker (resend-window.ts), and
 * every duplicate a verifier sees must be one the conduit counted as re-sent. The conduit's
 * counters add up, otb-publish's status names the second broker and the re-sent count, and a
 * real Catch node gets one report naming the broker that failed.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { connectAsync, type MqttClient } from "mqtt";
import * as mqttPacket from "mqtt-packet";
import type { Conduit, OtbConduitNode } from "../../nodes/otb-conduit/conduit";
import { brokerList, parseConduitConfig, type ConduitDef } from "../../nodes/otb-conduit/conduit-config";
import { itWithMosquitto } from "../helpers/interop";
import { delay, startMosquitto, waitFor, type Mosquitto } from "../helpers/peers";
import { helper, tab, withCoreNodes } from "../helpers/red";
import { Publisher } from "../../nodes/otb-publish/publish-logic";
import { connectUser, makeConduit, statusesOf, tempDir } from "./harness";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tahu = require("sparkplug-payload").get("spBv1.0") as {
  decodePayload(b: Uint8Array): { seq?: unknown; metrics: Array<{ name?: string; alias?: unknown; value: unknown; isHistorical?: boolean }> };
};

// eslint-disable-next-line @typescript-eslint/no-require-imports
const conduitNode = require("../../nodes/otb-conduit/otb-conduit");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const publishNode = require("../../nodes/otb-publish/otb-publish");

const ctx = { enterprise: "acme", site: "s1", area: "a1", line: "l1" };
const batch = (from: number, n: number): unknown[] => Array.from({ length: n }, (_, k) => ({
  tag: `tag${(from + k) % 3}`, value: from + k, ts: Date.now(), quality: "good", source: { protocol: "sim", address: "x" }, context: ctx,
}));

/** Every number seen by any of the verifiers, and how often in total. */
class Verifiers {
  readonly seen = new Map<number, number>();
  readonly perBroker: number[] = [];
  /** The numbers in the order each verifier received them. */
  readonly order: number[][] = [];
  private readonly clients: MqttClient[] = [];

  static async start(urls: string[]): Promise<Verifiers> {
    const v = new Verifiers();
    for (const [i, url] of urls.entries()) {
      // No reconnect: the killed broker stays dead, and its verifier must not try it for ever.
      const client = await connectAsync(url, { protocolVersion: 5, clientId: `verifier-${i}-${process.pid}`, reconnectPeriod: 0 });
      client.on("error", () => undefined);
      await client.subscribeAsync("acme/#", { qos: 1 });
      v.perBroker.push(0);
      v.order.push([]);
      client.on("message", (_topic, payload) => {
        const n = (JSON.parse(payload.toString()) as { value: number }).value;
        v.seen.set(n, (v.seen.get(n) ?? 0) + 1);
        v.perBroker[i]!++;
        v.order[i]!.push(n);
      });
      v.clients.push(client);
    }
    return v;
  }

  get unique(): number {
    return this.seen.size;
  }

  get duplicates(): number {
    let d = 0;
    for (const c of this.seen.values()) d += c - 1;
    return d;
  }

  missing(total: number): number[] {
    const out: number[] = [];
    for (let n = 0; n < total; n++) if (!this.seen.has(n)) out.push(n);
    return out;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) await c.endAsync(true).catch(() => undefined);
  }
}

/**
 * A loopback port in front of a broker that can be taken down (the port refuses connections and
 * the open ones are cut) and brought back on the same port: "this broker is down" without
 * restarting mosquitto, so that the verifier behind it never misses a message.
 */
class Gate {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private constructor(readonly port: number, private readonly target: number) {}

  static async open(target: number): Promise<Gate> {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const gate = new Gate(port, target);
    await gate.up();
    return gate;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("error", () => undefined);
        s.on("close", () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

/**
 * An MQTT 5 broker that acknowledges every QoS 1 publish and passes none on: the worst case of
 * a broker killed between its PUBACK and its subscribers (mosquitto without persistence, a
 * cluster member), made certain instead of a race. kill() cuts every link and refuses new ones.
 */
class BlackHole {
  acked = 0;
  private readonly sockets = new Set<net.Socket>();
  private constructor(private readonly server: net.Server) {}

  static async start(): Promise<BlackHole> {
    const server = net.createServer();
    const hole = new BlackHole(server);
    server.on("connection", (socket) => hole.serve(socket));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return hole;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async kill(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => this.sockets.delete(socket));
    const opts = { protocolVersion: 5 as const };
    const parser = mqttPacket.parser(opts);
    const send = (packet: object): void => void socket.write(mqttPacket.generate(packet as mqttPacket.Packet, opts));
    parser.on("packet", (packet: mqttPacket.Packet) => {
      if (packet.cmd === "connect") send({ cmd: "connack", sessionPresent: false, reasonCode: 0 });
      else if (packet.cmd === "pingreq") send({ cmd: "pingresp" });
      else if (packet.cmd === "publish" && packet.qos === 1) {
        this.acked++;
        send({ cmd: "puback", messageId: packet.messageId, reasonCode: 0 });
      }
    });
    socket.on("data", (chunk) => parser.parse(chunk));
  }
}

describe("otb-conduit fails over between several brokers (issue 19)", function () {
  this.timeout(90_000);
  let dir: string;
  const cleanup: Array<() => Promise<void> | void> = [];
  beforeEach(() => (dir = tempDir("otb-failover-")));
  afterEach(async () => {
    await helper.unload();
    for (const f of cleanup.splice(0).reverse()) await f();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function brokers(n: number): Promise<Mosquitto[]> {
    const out: Mosquitto[] = [];
    for (let i = 0; i < n; i++) {
      const m = await startMosquitto();
      cleanup.push(() => m.close());
      out.push(m);
    }
    return out;
  }

  async function load(broker: string, extra: Record<string, unknown> = {}): Promise<{ conduit: Conduit; caught: Array<Record<string, unknown>>; logLines(level: number): string[] }> {
    await helper.load(withCoreNodes([conduitNode, publishNode]), tab([
      { id: "c1", type: "otb-conduit", name: "north", sourceZone: "L3", targetZone: "DMZ", protocolVersion: "5", allowTopics: ["acme/#"], broker,
        queueDir: path.join(dir, "q"), commitMs: 5, keepalive: 5, connectTimeout: 2, reconnectMax: 0.5, inflight: 100, ...extra },
      { id: "p1", type: "otb-publish", conduit: "c1", wires: [] },
      { id: "catcher", type: "catch", scope: ["p1"], wires: [["caught"]] },
      { id: "caught", type: "helper" },
    ]));
    const node = helper.getNode("c1") as unknown as OtbConduitNode;
    assert.ok(node.conduit, `conduit configured: ${node.configError}`);
    const caught: Array<Record<string, unknown>> = [];
    helper.getNode("caught").on("input", (msg: Record<string, unknown>) => caught.push(msg));
    return {
      conduit: node.conduit,
      caught,
      logLines: (level) => helper.log().args.map((a: Array<{ level: number; id?: string; msg?: unknown }>) => a[0])
        .filter((e: { level: number; id?: string }) => e.level === level && e.id === "c1").map((e: { msg?: unknown }) => String(e.msg)),
    };
  }

  const submit = (from: number, n: number): void => helper.getNode("p1").receive({ payload: batch(from, n) });

  function assertInvariant(conduit: Conduit): void {
    const s = conduit.stats();
    assert.equal(s.recovered + s.produced, s.delivered + s.quarantined + s.dropped + s.expired + s.corruptLive + s.queued, JSON.stringify(s));
  }

  async function waitStatus(re: RegExp): Promise<void> {
    await waitFor(() => statusesOf("p1").some((s) => re.test(String(s.text))), 15_000, `status ${re}`).catch((e: Error) => {
      throw new Error(`${e.message}; statuses: ${statusesOf("p1").slice(-8).map((s) => s.text).join(" | ")}`);
    });
  }

  itWithMosquitto("kill -9 of the active broker mid-stream: every record arrives across the two verifiers, counters add up, one report", async () => {
    const [a, b] = await brokers(2);
    const verifiers = await Verifiers.start([a!.url, b!.url]);
    cleanup.push(() => verifiers.stop());
    const run = await load(`${a!.url}\n${b!.url}`);
    // Records are numbered in queue order and acknowledged in order: those below this count are
    // the ones the first broker acknowledged before it died.
    let ackedByFirst = -1;
    run.conduit.connection.on("state", (state: string) => {
      if (state !== "connected" && ackedByFirst < 0 && run.conduit.stats().delivered > 0) ackedByFirst = run.conduit.stats().delivered;
    });
    await waitStatus(new RegExp(`connected to ${a!.url.replace(/\./g, "\\.")} \\(1 of 2\\)`));

    // Up to 5,000 records/s in batches of 50 (the machine decides how fast they go); the broker
    // is killed right after a submit once a third has arrived, so records are in flight.
    const TOTAL = 9000;
    let killedAt = -1;
    for (let n = 0; n < TOTAL; n += 50) {
      submit(n, 50);
      if (killedAt < 0 && verifiers.perBroker[0]! >= TOTAL / 3) {
        killedAt = n;
        await a!.kill();
      }
      await delay(10);
    }
    assert.ok(killedAt > 0, "the first broker was killed mid-stream");
    await waitFor(() => run.conduit.stats().queued === 0 && verifiers.seen.has(TOTAL - 1), 60_000, "the queue drained to the second broker").catch((e: Error) => {
      throw new Error(`${e.message}: ${verifiers.unique} unique, ${JSON.stringify(run.conduit.stats())}`);
    });
    await waitFor(() => verifiers.unique >= TOTAL - 100, 10_000, "the records at the verifiers").catch(() => undefined);
    await delay(500);
    const s = run.conduit.stats();
    const missing = verifiers.missing(TOTAL);
    assert.ok(ackedByFirst > 0, "the link to the first broker went down");
    // At least once across the failover: also what the killed broker acknowledged and lost.
    assert.deepEqual(missing, [], `every record arrives at least once (first broker acked ${ackedByFirst}; resent ${s.resent})`);
    // The duplicates are the re-sent window and what was in flight at the kill: each one counted.
    assert.ok(s.resent > 0, "the last acknowledged records were re-sent to the second broker");
    assert.ok(verifiers.duplicates <= s.resent, `duplicates ${verifiers.duplicates} <= re-sent ${s.resent}`);
    assert.ok(s.resent <= ackedByFirst + 100, `re-sent ${s.resent}: at most what the first broker acknowledged, plus one window`);
    assert.ok(verifiers.perBroker[1]! > 0, "the second broker carried the rest");
    // What the killed broker acknowledged and never passed on, which only the re-send recovered.
    const atFirst = new Set(verifiers.order[0]);
    const rescued = Array.from({ length: ackedByFirst }, (_, n) => n).filter((n) => !atFirst.has(n));
    assert.equal(s.delivered, TOTAL, "each record acknowledged (and removed from the queue) once");
    assert.equal(s.quarantined + s.dropped + s.expired, 0);
    assertInvariant(run.conduit);
    assert.deepEqual(s.broker, { url: b!.url, index: 2, count: 2 });
    await waitStatus(new RegExp(`${s.resent} re-sent.*${b!.url.replace(/\./g, "\\.")} \\(2 of 2\\)`));

    assert.equal(run.caught.length, 1, `one report: ${run.caught.map((m) => JSON.stringify(m.error)).join("\n")}`);
    const err = run.caught[0]!.error as { message: string };
    assert.match(err.message, new RegExp(`broker ${a!.url.replace(/\./g, "\\.")} \\(1 of 2\\): connection .*failing over`));
    assert.equal((run.caught[0]!.payload as { broker: string }).broker, a!.url);
    assert.equal(run.logLines(20).length, 1, `one error line in the log: ${run.logLines(20).join("\n")}`);
    // Once the new link has been stable for 5 s, the log says where the conduit went.
    await waitFor(() => run.logLines(40).some((l) => l.includes(`failed over from ${a!.url} to ${b!.url} (2 of 2)`)), 15_000, "the failover in the log");
    console.log(`      failover: ${TOTAL} records, ${verifiers.perBroker[0]} via the first broker, ${verifiers.perBroker[1]} via the second, ` +
      `${verifiers.duplicates} duplicates at the verifiers, ${s.resent} re-sent by the conduit, ${missing.length} missing; ` +
      `${rescued.length} acknowledged by the killed broker and never at its verifier, recovered by the re-send`);
  });

  itWithMosquitto("a broker that acknowledged records and never passed them on dies: the next broker gets them, first, in order, counted as re-sent", async () => {
    const hole = await BlackHole.start();
    cleanup.push(() => hole.kill().catch(() => undefined));
    const [b] = await brokers(1);
    const verifiers = await Verifiers.start([b!.url]);
    cleanup.push(() => verifiers.stop());
    const run = await load(`${hole.url}\n${b!.url}`);
    submit(0, 300);
    await waitFor(() => run.conduit.stats().delivered === 300, 20_000, "300 records acknowledged by the first broker");
    assert.equal(hole.acked, 300);
    assert.equal(run.conduit.stats().resent, 0, "nothing re-sent while on the first broker");
    await hole.kill();
    await waitFor(() => verifiers.unique === 300, 20_000, "the acknowledged records at the second broker").catch((e: Error) => {
      throw new Error(`${e.message}: ${verifiers.unique}, ${JSON.stringify(run.conduit.stats())}`);
    });
    submit(300, 100);
    await waitFor(() => verifiers.unique === 400 && run.conduit.stats().queued === 0, 20_000, "the new records");
    await delay(300);
    const s = run.conduit.stats();
    assert.deepEqual(verifiers.order[0], Array.from({ length: 400 }, (_, n) => n), "the re-sent window first, in order, then the new records, each once");
    assert.equal(s.resent, 300);
    assert.equal(s.delivered, 400, "re-sent records are not delivered twice in the counters");
    assertInvariant(run.conduit);
    await waitStatus(/300 re-sent/);
  });

  itWithMosquitto("both brokers down, then one back: one report for the outage, the backlog arrives once on the one that came back, after the re-sent window", async () => {
    const [a, b] = await brokers(2);
    const gates = [await Gate.open(a!.port), await Gate.open(b!.port)];
    cleanup.push(async () => {
      for (const g of gates) await g.down();
    });
    // The three rounds below may take longer than the window's age bound (10 s) on a loaded
    // machine: the 50 are still re-sent, because their age counts back from the loss.
    const verifiers = await Verifiers.start([a!.url, b!.url]);
    cleanup.push(() => verifiers.stop());
    const run = await load(gates.map((g) => g.url).join(", "));
    submit(0, 50);
    await waitFor(() => verifiers.unique === 50 && run.conduit.stats().queued === 0, 20_000, "the first records");
    for (const g of gates) await g.down();
    await waitFor(() => run.conduit.stats().state !== "connected", 10_000, "the link down");
    submit(50, 150);
    let rounds = 0;
    run.conduit.connection.on("retry", () => rounds++);
    await waitFor(() => rounds >= 3, 20_000, "three full rounds over both brokers");
    await waitStatus(/(retrying|disconnected): connection refused · 150 queued/);
    assert.equal(verifiers.unique, 50);
    await gates[1]!.up();
    await waitFor(() => verifiers.unique === 200 && run.conduit.stats().queued === 0, 30_000, "the backlog at the second broker").catch((e: Error) => {
      throw new Error(`${e.message}: ${verifiers.unique}, ${JSON.stringify(run.conduit.stats())}`);
    });
    await delay(300);
    // Nothing was in flight when the brokers went down: the backlog arrives exactly once. The 50
    // the first broker acknowledged are re-sent to the second (another broker: the conduit cannot
    // know they reached their subscribers), first and in order, and counted.
    const s = run.conduit.stats();
    assert.equal(s.resent, 50, "the acknowledged window re-sent to the other broker");
    assert.equal(verifiers.duplicates, 50);
    for (let n = 0; n < 200; n++) assert.equal(verifiers.seen.get(n), n < 50 ? 2 : 1, `record ${n}`);
    assert.deepEqual(verifiers.order[1]!.slice(0, 50), Array.from({ length: 50 }, (_, n) => n), "the re-sent window first, in order");
    assert.equal(verifiers.perBroker[1], 200);
    assert.deepEqual(verifiers.missing(200), []);
    assertInvariant(run.conduit);
    assert.equal(run.conduit.stats().delivered, 200);
    assert.equal(run.caught.length, 1, `one report per outage, not per broker or round: ${run.caught.map((m) => JSON.stringify(m.error)).join("\n")}`);
    assert.match((run.caught[0]!.error as { message: string }).message, /connection (closed|reset|refused)/);
    await waitStatus(new RegExp(`${gates[1]!.url.replace(/\./g, "\\.")} \\(2 of 2\\)`));
  });

  it("members that accept and drop us at once: the conduit backs off between rounds instead of spinning", async () => {
    // A broker that answers CONNECT with a CONNACK (MQTT 5, success) and hangs up 10 ms later.
    let connects = 0;
    const servers: net.Server[] = [];
    for (let i = 0; i < 2; i++) {
      const server = net.createServer((socket) => {
        socket.on("error", () => undefined);
        socket.once("data", () => {
          connects++;
          socket.write(Buffer.from([0x20, 0x03, 0x00, 0x00, 0x00]));
          setTimeout(() => socket.destroy(), 10);
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
      servers.push(server);
      cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    }
    const urls = servers.map((s) => `mqtt://127.0.0.1:${(s.address() as net.AddressInfo).port}`);
    const run = await load(urls.join("\n"));
    await waitFor(() => connects >= 4, 15_000, "both members tried twice");
    const from = connects;
    await delay(3000);
    // Backoff 250 ms doubling to 0.5 s (reconnectMax): about a dozen CONNECTs in 3 s, not hundreds.
    assert.ok(connects - from <= 30, `${connects - from} CONNECTs in 3 s`);
    assert.equal(run.caught.length, 1, "one report for the whole outage");
  });

  itWithMosquitto("Sparkplug: on the new broker a new CONNECT with the next bdSeq in its NDEATH will, NBIRTH with every known metric, then the re-sent data as historical NDATA with the new session's seq", async () => {
    const [a, b] = await brokers(2);
    const gates = [await Gate.open(a!.port), await Gate.open(b!.port)];
    cleanup.push(async () => {
      for (const g of gates) await g.down();
    });
    // A Sparkplug host on each broker, decoding with Eclipse Tahu's decoder.
    type Seen = { type: string; bdSeq?: number; seq?: number; names: string[]; data: Array<{ alias?: number; value: number; historical: boolean }> };
    const seen: Array<Seen[]> = [[], []];
    for (const [i, m] of [a!, b!].entries()) {
      const client = await connectAsync(m.url, { protocolVersion: 4, clientId: `host-${i}` });
      cleanup.push(() => client.endAsync(true));
      await client.subscribeAsync("spBv1.0/G1/#", { qos: 1 });
      client.on("message", (topic, payload) => {
        const decoded = tahu.decodePayload(payload);
        const metrics = decoded.metrics;
        const bd = metrics.find((x) => x.name === "bdSeq");
        seen[i]!.push({ type: topic.split("/")[2]!, bdSeq: bd ? Number(String(bd.value)) : undefined, names: metrics.map((x) => x.name ?? ""),
          seq: decoded.seq === undefined || decoded.seq === null ? undefined : Number(String(decoded.seq)),
          data: metrics.map((x) => ({ alias: x.alias === undefined || x.alias === null ? undefined : Number(String(x.alias)), value: Number(String(x.value)), historical: x.isHistorical === true })) });
      });
    }
    const conduit = makeConduit({ broker: gates.map((g) => g.url).join("\n"), queueDir: dir, protocolVersion: "4", clientId: "edge-e1",
      allowTopics: ["spBv1.0/G1/#"], mode: "sparkplug", spGroup: "G1", spEdgeNode: "E1" });
    cleanup.push(() => conduit.close());
    const publisher = new Publisher({ topicMode: "uns", template: "", rbe: false, deadband: 0, sparkplugTopic: "spBv1.0/G1/NDATA/E1" }, conduit.policy);
    const publish = (value: number): Promise<unknown> => conduit.submit(publisher.prepare([{ tag: "pump1.current", value, ts: Date.now(), quality: "good",
      source: { protocol: "sim", address: "x" }, context: ctx }], { line: null }).records);
    connectUser(conduit);
    const of = (i: number, type: string) => seen[i]!.filter((m) => m.type === type);
    await waitFor(() => of(0, "NBIRTH").length === 1, 10_000, "NBIRTH on the first broker");
    await publish(1);
    await waitFor(() => of(0, "NDATA").length >= 1, 10_000, "NDATA on the first broker");
    const first = of(0, "NBIRTH")[0]!.bdSeq!;
    await gates[0]!.down();
    // The first broker lost us without DISCONNECT: it publishes our will, the session's bdSeq.
    await waitFor(() => of(0, "NDEATH").length === 1, 10_000, "NDEATH will on the first broker");
    assert.equal(of(0, "NDEATH")[0]!.bdSeq, first);
    await waitFor(() => of(1, "NBIRTH").length === 1, 10_000, "NBIRTH on the second broker");
    const birth = of(1, "NBIRTH")[0]!;
    assert.equal(birth.bdSeq, (first + 1) % 256, "a new CONNECT, a new bdSeq");
    assert.ok(birth.names.includes("pump1.current"), "the NBIRTH lists the metric learned on the first broker");
    await publish(2);
    await waitFor(() => of(1, "NDATA").length >= 2 && conduit.stats().queued === 0, 10_000, "NDATA on the second broker");
    // The record the first broker took is written again (it may have died before passing it on):
    // right after NBIRTH (seq 0), in NDATA seq 1 of the new session, by the alias that NBIRTH
    // declared, flagged historical so that the host's current value (2, or the birth's) stays.
    assert.equal(birth.seq, 0);
    const birthAlias = birth.data[birth.names.indexOf("pump1.current")]!.alias;
    const [again, next] = of(1, "NDATA");
    assert.equal(again!.seq, 1);
    assert.deepEqual(again!.data.map((d) => [d.value, d.historical]), [[1, true]]);
    assert.ok(birthAlias !== undefined);
    assert.equal(again!.data[0]!.alias, birthAlias, "by the alias the NBIRTH declared");
    assert.equal(next!.seq, 2);
    assert.deepEqual(next!.data.map((d) => [d.value, d.historical]), [[2, false]]);
    assert.equal(conduit.stats().resent, 1);
    // Its will on the second broker carries that session's bdSeq.
    await gates[1]!.down();
    await waitFor(() => of(1, "NDEATH").length === 1, 10_000, "NDEATH will on the second broker");
    assert.equal(of(1, "NDEATH")[0]!.bdSeq, birth.bdSeq);
    assert.equal(conduit.stats().delivered, 2);
  });

  /** 50 records through a gate to one broker, the gate down and up again, 50 more: back to the same broker. */
  async function backToSameBroker(extra: Record<string, unknown> = {}): Promise<{ conduit: Conduit; verifiers: Verifiers }> {
    const [a] = await brokers(1);
    const gate = await Gate.open(a!.port);
    cleanup.push(() => gate.down());
    const verifiers = await Verifiers.start([a!.url]);
    cleanup.push(() => verifiers.stop());
    const run = await load(`${gate.url}\nmqtt://127.0.0.1:1`, extra);
    submit(0, 50);
    await waitFor(() => verifiers.unique === 50 && run.conduit.stats().queued === 0, 20_000, "the first records");
    await gate.down();
    await waitFor(() => run.conduit.stats().state !== "connected", 10_000, "the link down");
    submit(50, 50);
    await gate.up();
    await waitFor(() => verifiers.unique === 100 && run.conduit.stats().queued === 0, 30_000, "the rest on the same broker");
    await delay(300);
    return { conduit: run.conduit, verifiers };
  }

  itWithMosquitto("back to the same broker after a link it ended: the acknowledged window re-sent once, first, nothing lost", async () => {
    const { conduit, verifiers } = await backToSameBroker();
    // The conduit cannot tell a restarted broker (which may have lost what it acknowledged last)
    // from a dropped link: the 50 acknowledged records go again, once each, before the backlog.
    assert.equal(conduit.stats().resent, 50, "the last acknowledged records re-sent to the same broker");
    assert.equal(verifiers.duplicates, 50);
    for (let n = 0; n < 100; n++) assert.equal(verifiers.seen.get(n), n < 50 ? 2 : 1, `record ${n}`);
    assert.deepEqual(verifiers.order[0]!.slice(50, 100), Array.from({ length: 50 }, (_, n) => n), "the re-sent window first, in order");
    assertInvariant(conduit);
  });

  itWithMosquitto("re-send turned off in the flow (resendRecords 0): back to the same broker, nothing re-sent, each record once", async () => {
    const { conduit, verifiers } = await backToSameBroker({ resendRecords: 0 });
    assert.equal(conduit.stats().resent, 0, "the user chose no duplicates over covering a broker's shutdown losses");
    assert.equal(verifiers.duplicates, 0);
    assertInvariant(conduit);
  });

  itWithMosquitto("a single broker URL: no position in the status or the report, as before", async () => {
    const [a] = await brokers(1);
    const run = await load(a!.url);
    await waitStatus(/^connected · 0 queued$/);
    assert.deepEqual(run.conduit.stats().broker, { url: a!.url, index: 1, count: 1 });
    await a!.stop();
    await waitFor(() => run.caught.length === 1, 15_000, "the report");
    const message = (run.caught[0]!.error as { message: string }).message;
    assert.match(message, /^(Error: )?conduit north: connection/);
    assert.doesNotMatch(message, /of 1|failing over/);
  });
});

describe("otb-conduit broker list configuration (issue 19)", () => {
  const base: ConduitDef = { id: "c1", broker: "mqtts://dmz:8883", sourceZone: "L3", targetZone: "L4", allowTopics: ["acme/#"] };
  const parse = (d: Partial<ConduitDef>, env: NodeJS.ProcessEnv = {}) => parseConduitConfig({ ...base, ...d }, {}, "/tmp/otb-user", env);

  it("keeps one URL as before, and reads several from lines or commas", () => {
    const one = parse({});
    assert.equal(one.url, "mqtts://dmz:8883");
    assert.deepEqual(one.urls, ["mqtts://dmz:8883"]);
    assert.equal(one.name, "dmz:8883");
    assert.deepEqual(parse({ broker: "mqtts://a:8883\r\n  mqtts://b:8883 \n\n" }).urls, ["mqtts://a:8883", "mqtts://b:8883"]);
    assert.deepEqual(parse({ broker: "mqtts://a:8883, mqtts://b:8883,mqtts://c:8883" }).urls, ["mqtts://a:8883", "mqtts://b:8883", "mqtts://c:8883"]);
    assert.equal(parse({ broker: "mqtts://a:8883\nmqtts://b:8883" }).url, "mqtts://a:8883");
  });

  it("resolves a ${VAR} per entry (a variable may hold a list) and names one that is not set", () => {
    const env = { DMZ_A: "mqtts://a:8883", DMZ_PAIR: "mqtts://b:8883,mqtts://c:8883" };
    assert.deepEqual(parse({ broker: "${DMZ_A}\n${DMZ_PAIR}" }, env).urls, ["mqtts://a:8883", "mqtts://b:8883", "mqtts://c:8883"]);
    assert.throws(() => parse({ broker: "${DMZ_A}\n${DMZ_NOPE}" }, env), /environment variable DMZ_NOPE is not set/);
    assert.deepEqual(brokerList("${DMZ_A}", env), ["mqtts://a:8883"]);
  });

  it("checks every member: a URL, a known scheme, listed once; into L4/L5 every one over TLS", () => {
    assert.throws(() => parse({ broker: "mqtts://a:8883\nnot a url" }), /"not a url" is not a URL/);
    assert.throws(() => parse({ broker: "mqtts://a:8883\nhttp://b" }), /scheme http:/);
    assert.throws(() => parse({ broker: "mqtts://a:8883\nmqtts://a:8883" }), /listed twice/);
    assert.throws(() => parse({ broker: " \n , " }), /^ConfigError: broker has no URL: give one/);
    assert.throws(() => parse({ broker: "mqtts://a:8883\nmqtt://b:1883" }), /needs TLS.*broker mqtt:\/\/b:1883/);
    assert.throws(() => parse({ broker: "mqtt://a:1883\nmqtts://b:8883" }), /needs TLS.*broker mqtt:\/\/a:1883/);
    const tls = parse({ broker: "mqtts://a:8883\nwss://b:443" });
    assert.equal(tls.tls?.verify, true, "TLS settings (verification on) for every member");
    assert.deepEqual(parse({ broker: "mqtt://a:1883\nmqtt://b:1883", targetZone: "DMZ" }).urls.length, 2);
  });
});
