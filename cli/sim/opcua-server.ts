/**
 * The line PLC as a node-opcua server on 127.0.0.1: Objects/<line>/<asset>/<tag>, node ids
 * `ns=1;s=<line>.<asset>.<tag>`, AnalogItemType variables with EngineeringUnits and EURange for
 * analog tags, source timestamps on the simulated time line, and status codes that turn Bad
 * (BadSensorFailure) while a sensor fails. Discovery registration is off; the PKI folder lives
 * under os.tmpdir() and is reused between runs, because generating the certificate is slow.
 *
 * The server certificate names the otbridge line simulator (not node-opcua's default
 * "NodeOPCUA-Server ... O=Sterfive"), and its SHA-256 fingerprint is `certificateFingerprint`,
 * which `otbridge simulate` and `otbridge start` print: clients must pin it, not trust any server.
 */
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  DataType,
  LogLevel,
  OPCUACertificateManager,
  OPCUAServer,
  RegisterServerMethod,
  StatusCodes,
  Variant,
  makeEUInformation,
  setLogLevel,
  standardUnits,
  type Namespace,
  type UAObject,
  type UAVariable,
} from "node-opcua";
import { OPCUA_NAMESPACE_URI } from "./catalog";
import type { Sample } from "./line";
import { LINE_NAME, OPCUA_TAGS, type TagDef } from "./tags";

// node-opcua is chatty on stdout (and warns about RSA PKCS#1 v1.5 on every load under Node 20.19+,
// irrelevant to the simulator's loopback endpoints); the simulator's own output must stay readable.
// This is process-wide: node-opcua has one log level.
setLogLevel(LogLevel.Error);

const UNITS: Record<string, ReturnType<typeof makeEUInformation>> = {
  A: standardUnits.ampere,
  V: standardUnits.volt,
  "°C": standardUnits.degree_celsius,
  bar: standardUnits.bar,
  "%": standardUnits.percent,
  "l/min": makeEUInformation("L2", "l/min", "litre per minute"),
  parts: makeEUInformation("C62", "parts", "one (count of parts)"),
  g: makeEUInformation("K40", "g", "standard acceleration of free fall"),
};

const DATA_TYPES: Record<TagDef["type"], DataType> = {
  Double: DataType.Double,
  UInt32: DataType.UInt32,
  UInt16: DataType.UInt16,
  String: DataType.String,
  Boolean: DataType.Boolean,
};

/** The certificate's subject; CN is what certificate lists and trust dialogs show. */
export const SIM_CERT_SUBJECT = "/CN=otbridge line simulator/O=otbridge/OU=simulator";
const SIM_CERT_CN = "otbridge line simulator";

/** SHA-256 fingerprint of a PEM certificate file as AA:BB:... (the form openssl and UaExpert show). */
export function certificateFingerprint(pemFile: string): string {
  return new X509Certificate(fs.readFileSync(pemFile)).fingerprint256;
}

export interface OpcuaServerOptions {
  port: number;
  line?: string;
  pkiDir?: string;
}

export class SimOpcuaServer {
  private server: OPCUAServer | null = null;
  private readonly variables = new Map<string, UAVariable>();
  private lastSample: Sample | null = null;
  /** The port actually bound (read back when 0 was asked for); kept across restarts. */
  port: number;
  readonly line: string;
  private readonly pkiDir: string;

  constructor(opts: OpcuaServerOptions) {
    this.port = opts.port;
    this.line = opts.line ?? LINE_NAME;
    this.pkiDir = opts.pkiDir ?? path.join(os.tmpdir(), "otbridge-sim-pki");
  }

  get url(): string {
    return `opc.tcp://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server !== null;
  }

  /** The served certificate (PEM file). */
  get certificateFile(): string {
    return path.join(this.pkiDir, "server", "own", "certs", "certificate.pem");
  }

  /** SHA-256 fingerprint (AA:BB:...) of the served certificate; set once started. */
  certificateFingerprint?: string;

  /**
   * Creates the simulator's own certificate before node-opcua would create its default one
   * (which it only does when the file is missing). A certificate left in a reused PKI folder by
   * an older version, with the library's default subject, is replaced.
   */
  private async ensureCertificate(cm: OPCUACertificateManager): Promise<void> {
    await cm.initialize();
    const file = this.certificateFile;
    if (fs.existsSync(file)) {
      try {
        if (new X509Certificate(fs.readFileSync(file)).subject.includes(`CN=${SIM_CERT_CN}`)) return;
      } catch {
        // unreadable: made again below
      }
      fs.rmSync(file, { force: true });
    }
    await cm.createSelfSignedCertificate({
      applicationUri: OPCUA_NAMESPACE_URI,
      dns: [...new Set(["localhost", os.hostname()])],
      ip: ["127.0.0.1"],
      outputFile: file,
      subject: SIM_CERT_SUBJECT,
      startDate: new Date(),
      validity: 365 * 10,
    });
  }

  async start(): Promise<void> {
    const serverCertificateManager = new OPCUACertificateManager({ rootFolder: path.join(this.pkiDir, "server"), automaticallyAcceptUnknownCertificate: true });
    await this.ensureCertificate(serverCertificateManager);
    const userCertificateManager = new OPCUACertificateManager({ rootFolder: path.join(this.pkiDir, "user"), automaticallyAcceptUnknownCertificate: true });
    const server = new OPCUAServer({
      port: this.port,
      host: "127.0.0.1",
      hostname: "127.0.0.1",
      registerServerMethod: RegisterServerMethod.HIDDEN,
      serverCertificateManager,
      userCertificateManager,
      allowAnonymous: true,
      buildInfo: { productName: "otbridge line simulator", manufacturerName: "otbridge", softwareVersion: "0.1.0" },
      serverInfo: { applicationUri: OPCUA_NAMESPACE_URI, productUri: OPCUA_NAMESPACE_URI, applicationName: { text: SIM_CERT_CN } },
    });
    await server.initialize();
    // The certificate the server hands to clients (GetEndpoints, OpenSecureChannel), not the file.
    this.certificateFingerprint = new X509Certificate(server.getCertificate()).fingerprint256;
    this.buildAddressSpace(server);
    await server.start();
    const endpoint = server.endpoints[0];
    if (!endpoint) throw new Error("the OPC UA server started without an endpoint");
    this.port = endpoint.port;
    this.server = server;
    if (this.lastSample) this.publish(this.lastSample);
  }

  private buildAddressSpace(server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace!;
    const ns: Namespace = addressSpace.getOwnNamespace();
    this.variables.clear();
    const lineObj = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: this.line, nodeId: `s=${this.line}` });
    const assets = new Map<string, UAObject>();
    for (const def of OPCUA_TAGS) {
      let asset = assets.get(def.asset);
      if (!asset) {
        asset = ns.addObject({ componentOf: lineObj, browseName: def.asset, nodeId: `s=${this.line}.${def.asset}` });
        assets.set(def.asset, asset);
      }
      const nodeId = `s=${this.line}.${def.tag}`;
      const common = { componentOf: asset, browseName: def.name, nodeId, description: def.description, minimumSamplingInterval: 100 };
      const variable =
        def.range && def.type === "Double"
          ? ns.addAnalogDataItem({
              ...common,
              dataType: "Double",
              engineeringUnitsRange: def.range,
              engineeringUnits: def.unit ? UNITS[def.unit] : undefined,
            })
          : ns.addVariable({ ...common, dataType: def.type });
      variable.setValueFromSource(new Variant({ dataType: DATA_TYPES[def.type], value: def.type === "String" ? "" : def.type === "Boolean" ? false : 0 }), StatusCodes.UncertainInitialValue);
      this.variables.set(def.tag, variable);
    }
  }

  /** Pushes a sample's values (latest wins) with its simulated timestamp. */
  publish(sample: Sample): void {
    this.lastSample = sample;
    if (!this.server) return;
    const ts = new Date(sample.ts);
    for (const def of OPCUA_TAGS) {
      const variable = this.variables.get(def.tag);
      const value = sample.values[def.tag];
      if (!variable || value === undefined) continue;
      const bad = sample.bad.get(def.tag);
      const status = bad ? (StatusCodes as unknown as Record<string, typeof StatusCodes.Good>)[bad] ?? StatusCodes.Bad : StatusCodes.Good;
      variable.setValueFromSource(new Variant({ dataType: DATA_TYPES[def.type], value }), status, ts);
    }
  }

  /**
   * A restart as clients see it: the listener closes, every connection is cut and every session
   * and subscription is forgotten, so clients must reconnect and re-create them. The address
   * space stays built, which keeps the outage as long as the scenario says (a full node-opcua
   * re-initialisation blocks the event loop for seconds).
   */
  async goDown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    const engine = server.engine;
    for (const session of [...engine.getSessions()]) engine.closeSession(session.authenticationToken, true, "Terminated");
    for (const ep of server.endpoints) {
      const released = new Promise<void>((resolve) => ep.suspendConnection(() => resolve()));
      ep.abruptlyInterruptChannels();
      await released;
    }
  }

  async comeBack(): Promise<void> {
    const server = this.server;
    if (!server) return;
    for (const ep of server.endpoints) await new Promise<void>((resolve, reject) => ep.restoreConnection((err) => (err ? reject(err) : resolve())));
    if (this.lastSample) this.publish(this.lastSample);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await server.shutdown(0);
  }
}
