/**
 * A real node-opcua server for the OPC UA tests and the benchmark, on loopback, with its PKI in
 * os.tmpdir(), no discovery registration and node-opcua's console chatter silenced. The PKI folder
 * survives stop()/start(), so a restarted server presents the same certificate (as a PLC does).
 *
 * Variables (namespace 1, string node ids):
 *   Counter      Double, +1 every `tickMs`; exception-based when subscribed with sampling 0
 *   Temperature  Double, settable, with a settable StatusCode
 *   Running      Boolean
 *   Recipe       String
 *   Bulk.<i>     `bulkItems` Doubles that change every tickMs (value = tick * 1000 + i)
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  RegisterServerMethod,
  SecurityPolicy,
  StatusCode,
  StatusCodes,
  Subscription,
  Variant,
  type UAVariable,
} from "node-opcua";
import { silenceNodeOpcua } from "./silence";

export interface TestServerOptions {
  port: number;
  /** Reused across restarts so the certificate stays the same; a fresh temp folder by default. */
  pkiDir?: string;
  securityModes?: MessageSecurityMode[];
  securityPolicies?: SecurityPolicy[];
  allowAnonymous?: boolean;
  users?: Record<string, string>;
  bulkItems?: number;
  tickMs?: number;
}

export interface TestServer {
  endpointUrl: string;
  port: number;
  pkiDir: string;
  /** Server certificate DER and its fingerprints (hex, upper case). */
  certificate: Buffer;
  sha1: string;
  sha256: string;
  readonly server: OPCUAServer | null;
  set(name: "Temperature" | "Running" | "Recipe", value: number | boolean | string, status?: StatusCode): void;
  sessionCount(): number;
  subscriptionCount(): number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and removes the PKI folder. */
  close(): Promise<void>;
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  silenceNodeOpcua();
  // node-opcua caps a publish response at 1,000 notifications; a PLC gateway serving thousands
  // of tags sends a whole publishing cycle in one, and so does this server.
  Subscription.maxNotificationPerPublishHighLimit = 20_000;
  const pkiDir = options.pkiDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "otb-opcua-srv-"));
  const tickMs = options.tickMs ?? 100;
  let server: OPCUAServer | null = null;
  let timer: NodeJS.Timeout | null = null;
  let tick = 0;
  const vars: Record<string, UAVariable> = {};

  const launch = async (): Promise<void> => {
    const serverCertificateManager = new OPCUACertificateManager({
      rootFolder: pkiDir,
      automaticallyAcceptUnknownCertificate: true,
      disableFileWatchers: true,
    });
    // X.509 user identities are accepted when unknown: the tests are about the client side.
    const userCertificateManager = new OPCUACertificateManager({
      rootFolder: path.join(pkiDir, "users"),
      automaticallyAcceptUnknownCertificate: true,
      disableFileWatchers: true,
    });
    const users = options.users ?? {};
    const s = new OPCUAServer({
      port: options.port,
      hostname: "127.0.0.1",
      alternateHostname: ["127.0.0.1"],
      serverCertificateManager,
      userCertificateManager,
      securityModes: options.securityModes ?? [MessageSecurityMode.None],
      securityPolicies: options.securityPolicies ?? [SecurityPolicy.None],
      allowAnonymous: options.allowAnonymous ?? true,
      userManager: { isValidUser: (u: string, p: string) => users[u] !== undefined && users[u] === p },
      registerServerMethod: RegisterServerMethod.HIDDEN,
      maxConnectionsPerEndpoint: 50,
      serverCapabilities: { maxMonitoredItemsPerCall: 5000, minSupportedSampleRate: 0 } as never,
      buildInfo: { productName: "otbridge-test-server" },
    });
    await s.initialize();
    const addressSpace = s.engine.addressSpace!;
    const ns = addressSpace.getOwnNamespace();
    const objects = addressSpace.rootFolder.objects;
    const add = (name: string, dataType: DataType, value: unknown, minimumSamplingInterval?: number): UAVariable => {
      const v = ns.addVariable({ organizedBy: objects, browseName: name, nodeId: `s=${name}`, dataType: DataType[dataType], minimumSamplingInterval });
      v.setValueFromSource(new Variant({ dataType, value }));
      return v;
    };
    // Exception-based too (sampling interval 0): every tick is queued as it is written, so a test
    // can hold the client to "no gap" even when timers run late under load.
    vars.Counter = add("Counter", DataType.Double, tick, 0);
    vars.Temperature = add("Temperature", DataType.Double, 21.5);
    vars.Running = add("Running", DataType.Boolean, true);
    vars.Recipe = add("Recipe", DataType.String, "A-100");
    const bulkFolder = ns.addFolder(objects, { browseName: "Bulk" });
    for (let i = 0; i < (options.bulkItems ?? 0); i++) {
      ns.addVariable({
        componentOf: bulkFolder,
        browseName: `Bulk.${i}`,
        nodeId: `s=Bulk.${i}`,
        dataType: "Double",
        // Without it node-opcua revises sampling of a getter-backed variable to 1 s.
        minimumSamplingInterval: 50,
        value: { get: () => new Variant({ dataType: DataType.Double, value: tick * 1000 + i }) },
      });
    }
    await s.start();
    server = s;
    timer = setInterval(() => {
      tick++;
      vars.Counter.setValueFromSource(new Variant({ dataType: DataType.Double, value: tick }));
    }, tickMs);
  };

  await launch();
  const der = server!.getCertificate();
  const stop = async (): Promise<void> => {
    if (timer) clearInterval(timer);
    timer = null;
    const s = server;
    server = null;
    if (s) await s.shutdown(0);
  };
  return {
    endpointUrl: `opc.tcp://127.0.0.1:${options.port}`,
    port: options.port,
    pkiDir,
    certificate: der,
    sha1: crypto.createHash("sha1").update(der).digest("hex").toUpperCase(),
    sha256: crypto.createHash("sha256").update(der).digest("hex").toUpperCase(),
    get server() {
      return server;
    },
    set(name, value, status = StatusCodes.Good) {
      const dataType = typeof value === "number" ? DataType.Double : typeof value === "boolean" ? DataType.Boolean : DataType.String;
      vars[name].setValueFromSource(new Variant({ dataType, value }), status);
    },
    sessionCount: () => server?.engine.currentSessionCount ?? 0,
    subscriptionCount: () => server?.engine.currentSubscriptionCount ?? 0,
    stop,
    start: launch,
    close: async () => {
      await stop();
      fs.rmSync(pkiDir, { recursive: true, force: true });
    },
  };
}
