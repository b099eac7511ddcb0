/**
 * A node-opcua server in its own process, scripted to misbehave the way servers and PLCs seen in
 * the field do (issue 14). `node dist/test/opcua/faulty-server-main.js '<json FaultyServerConfig>'`
 * prints "READY <port>", then takes one command per line on stdin and answers one line each:
 *   restart  shut the OPC UA server down and start it again on the same port (the "PLC" keeps
 *            counting meanwhile, as a controller does while its OPC UA server restarts) -> RESTARTED
 *   publish off|on  stop answering Publish requests (they are swallowed, the session and channel stay
 *            up: a silent stall) or answer them again -> PUBLISH off|on
 *   stats    -> STATS {"requests":{"RepublishRequest":n,...},"republishAt":[ms...],"subscriptionIds":[...],"subscriptionTicks":[...],
 *               "sessions":n,"subscriptions":n}
 * It exits when stdin closes.
 *
 * Variables (namespace 1): Counter (Double, +1 every tickMs), Bulk.<i> (tick * 1000 + i), both
 * exception-based (subscribe with sampling interval 0), and Slow.Product / Slow.Batch /
 * Slow.State (strings that never change).
 */
import {
  DataChangeNotification,
  DataType,
  MonitoredItem,
  NotificationMessage,
  OPCUACertificateManager,
  OPCUAServer,
  RegisterServerMethod,
  RepublishResponse,
  StatusCodes,
  Variant,
  type UAVariable,
  setNextSubscriptionId,
} from "node-opcua";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as readline from "readline";
import { silenceNodeOpcua } from "./silence";

export interface FaultyServerConfig {
  port: number;
  tickMs?: number;
  bulkItems?: number;
  /** Answer Republish for a message the server no longer has with Good and an empty message. */
  republishGoodEmpty?: boolean;
  /** Answer every Republish with Good and a made-up message that is not the one asked for. */
  republishWrongMessage?: boolean;
  /** After a restart, hand out the same subscription ids again (OPC UA allows continuing them). */
  sameSubscriptionIds?: boolean;
  /** Never send the initial value of the Slow.* items (only changes, and they never change). */
  noInitialValueForSlow?: boolean;
}

const config = JSON.parse(process.argv[2] ?? "{}") as FaultyServerConfig;
const pkiDir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-opcua-faulty-"));
const requests: Record<string, number> = {};
const republishAt: number[] = [];
const subscriptionIds: number[] = [];
/** The counter's tick when each subscription was created: its initial values carry this tick. */
const subscriptionTicks: number[] = [];
let firstSubscriptionId = 0;
let tick = 0;
let server: OPCUAServer | null = null;
let publishOff = false;
/** Writes the current tick to the changing variables of the running server. */
let writeTick = (): void => undefined;

if (config.noInitialValueForSlow) {
  // Swallow the first value recorded for a Slow.* item: the initial value never leaves the server.
  const proto = MonitoredItem.prototype as unknown as {
    recordValue(this: { node?: { nodeId: { toString(): string } }; oldDataValue: unknown; __swallowed?: boolean }, dv: { clone(): unknown }, ...rest: unknown[]): boolean;
  };
  const original = proto.recordValue;
  proto.recordValue = function (dv, ...rest) {
    if (!this.__swallowed && /s=Slow\./.test(this.node?.nodeId.toString() ?? "")) {
      this.__swallowed = true;
      this.oldDataValue = dv.clone();
      return false;
    }
    return original.call(this, dv, ...rest);
  };
}

async function launch(): Promise<void> {
  if (config.sameSubscriptionIds && firstSubscriptionId) setNextSubscriptionId(firstSubscriptionId);
  const s = new OPCUAServer({
    port: config.port,
    hostname: "127.0.0.1",
    alternateHostname: ["127.0.0.1"],
    serverCertificateManager: new OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: true, disableFileWatchers: true }),
    allowAnonymous: true,
    registerServerMethod: RegisterServerMethod.HIDDEN,
    buildInfo: { productName: "otbridge-faulty-server" },
    serverCapabilities: { minSupportedSampleRate: 0 } as never,
  });
  await s.initialize();
  const ns = s.engine.addressSpace!.getOwnNamespace();
  const objects = s.engine.addressSpace!.rootFolder.objects;
  // Exception-based (MinimumSamplingInterval 0, a client asking sampling 0, MinSupportedSampleRate
  // 0): every change is queued when it is written, so no tick is lost to a late sampling timer
  // under load, and "every value exactly once" can be checked against the counter.
  const counting: Array<{ v: UAVariable; at: (t: number) => number }> = [];
  const changing = (name: string, at: (t: number) => number): void => {
    const v = ns.addVariable({ organizedBy: objects, browseName: name, nodeId: `s=${name}`, dataType: "Double", minimumSamplingInterval: 0 });
    v.setValueFromSource(new Variant({ dataType: DataType.Double, value: at(tick) }));
    counting.push({ v, at });
  };
  changing("Counter", (t) => t);
  for (let i = 0; i < (config.bulkItems ?? 0); i++) changing(`Bulk.${i}`, (t) => t * 1000 + i);
  writeTick = () => {
    for (const c of counting) c.v.setValueFromSource(new Variant({ dataType: DataType.Double, value: c.at(tick) }));
  };
  for (const [name, text] of [["Product", "PUMP-7"], ["Batch", "B-2026-118"], ["State", "RUNNING"]]) {
    const v = ns.addVariable({ organizedBy: objects, browseName: `Slow.${name}`, nodeId: `s=Slow.${name}`, dataType: "String" });
    v.setValueFromSource(new Variant({ dataType: DataType.String, value: text }));
  }
  s.on("request", (req: { schema: { name: string } }) => {
    requests[req.schema.name] = (requests[req.schema.name] ?? 0) + 1;
    if (req.schema.name === "RepublishRequest") republishAt.push(Date.now());
  });
  s.on("create_session", (session: { on(e: string, f: (sub: { id: number }) => void): void }) => {
    session.on("new_subscription", (sub) => {
      subscriptionIds.push(sub.id);
      subscriptionTicks.push(tick);
      if (!firstSubscriptionId) firstSubscriptionId = sub.id;
    });
  });
  if (config.republishGoodEmpty || config.republishWrongMessage) {
    type Apply = (R: unknown, m: unknown, c: unknown, f: (session: unknown, sub: { getMessageForSequenceNumber(n: number): unknown }, send: (r: unknown) => void) => Promise<void>) => void;
    const impl = s as unknown as { _apply_on_Subscription: Apply; _on_RepublishRequest: (m: { request: { retransmitSequenceNumber: number } }, c: unknown) => void };
    impl._on_RepublishRequest = function (message, channel) {
      impl._apply_on_Subscription.call(s, RepublishResponse, message, channel, async (_session, subscription, send) => {
        const asked = message.request.retransmitSequenceNumber;
        const kept = subscription.getMessageForSequenceNumber(asked);
        // The faults: Good with an empty message instead of BadMessageNotAvailable, or Good with
        // a message that is not the one asked for.
        const notificationMessage = config.republishWrongMessage
          ? new NotificationMessage({ sequenceNumber: asked + 1000, publishTime: new Date(), notificationData: [new DataChangeNotification({ monitoredItems: [] })] })
          : (kept ?? new NotificationMessage({ sequenceNumber: 0, publishTime: new Date(), notificationData: [] }));
        send(new RepublishResponse({ notificationMessage: notificationMessage as NotificationMessage, responseHeader: { serviceResult: StatusCodes.Good } }));
      });
    };
  }
  const publish = s as unknown as { _on_PublishRequest: (m: unknown, c: unknown) => void };
  const answerPublish = publish._on_PublishRequest.bind(s);
  publish._on_PublishRequest = (message, channel) => {
    if (!publishOff) answerPublish(message, channel);
  };
  await s.start();
  server = s;
}

async function main(): Promise<void> {
  silenceNodeOpcua();
  setInterval(() => {
    tick++;
    writeTick();
  }, config.tickMs ?? 100);
  await launch();
  console.log(`READY ${config.port}`);
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    const command = line.trim();
    if (command === "restart") {
      const s = server;
      server = null;
      writeTick = () => undefined;
      (s ? s.shutdown(0) : Promise.resolve())
        .then(() => launch())
        .then(() => console.log("RESTARTED"), (err: Error) => console.log(`FAILED ${err.message}`));
    } else if (command === "publish off" || command === "publish on") {
      publishOff = command === "publish off";
      console.log(`PUBLISH ${publishOff ? "off" : "on"}`);
    } else if (command === "stats") {
      const engine = server?.engine;
      const sessions = engine?.currentSessionCount ?? 0;
      const subscriptions = engine?.currentSubscriptionCount ?? 0;
      console.log(`STATS ${JSON.stringify({ requests, republishAt, subscriptionIds, subscriptionTicks, sessions, subscriptions })}`);
    }
  });
  rl.on("close", () => {
    const s = server;
    (s ? s.shutdown(0) : Promise.resolve()).finally(() => {
      fs.rmSync(pkiDir, { recursive: true, force: true });
      process.exit(0);
    });
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
