/** The pure parts of the OPC UA nodes: endpoint config, tag lists and catalogs, StatusCode/value mapping. */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DataType, DataValue, StatusCodes, Variant, VariantArrayType } from "node-opcua";
import { ConfigError, validateSignal } from "../../nodes/shared";
import { formatFingerprint, normalizeFingerprint, parseEndpointConfig } from "../../nodes/otb-opcua-endpoint/endpoint-config";
import { leafCertificate } from "../../nodes/otb-opcua-endpoint/pinning-certificate-manager";
import { loadCatalog, parseTags } from "../../nodes/otb-opcua-in/tag-list";
import { qualityOf, toSignal, toSignalValue } from "../../nodes/otb-opcua-in/signal-mapping";

const SHA256 = "4B3DDAE9C5CE56578907AC6C4774D83636CF0C6E662EE783947B263B83BB69A9";

describe("otb-opcua-endpoint config", () => {
  it("parses a secure endpoint with username, pins and numeric strings from the editor", () => {
    const s = parseEndpointConfig(
      { endpointUrl: " opc.tcp://plc1:4840 ", securityMode: "SignAndEncrypt", securityPolicy: "Aes256_Sha256_RsaPss", auth: "username", pinnedFingerprints: `${formatFingerprint(SHA256)}\n`, keepAliveInterval: "2000" },
      { username: "op", password: "pw" },
    );
    assert.strictEqual(s.endpointUrl, "opc.tcp://plc1:4840");
    assert.deepStrictEqual(s.pinnedFingerprints, [SHA256]);
    assert.strictEqual(s.keepAliveMs, 2000);
    assert.strictEqual(s.sessionTimeoutMs, 60_000);
    assert.deepStrictEqual(s.warnings, []);
  });

  it("refuses inconsistent or incomplete security settings with a ConfigError naming the field", () => {
    const bad: Array<[Record<string, unknown>, Record<string, string>, RegExp]> = [
      [{ endpointUrl: "http://plc1" }, {}, /endpointUrl "http:\/\/plc1" must look like opc\.tcp:\/\/host:4840$/],
      [{ endpointUrl: "opc.tcp://plc1:4840", securityMode: "None", securityPolicy: "Basic256Sha256" }, {}, /securityPolicy must be None when securityMode is None \(got Basic256Sha256\)$/],
      [{ endpointUrl: "opc.tcp://plc1:4840", securityMode: "Sign", securityPolicy: "None" }, {}, /securityPolicy cannot be None when securityMode is Sign$/],
      [{ endpointUrl: "opc.tcp://plc1:4840", securityMode: "Encrypt" }, {}, /securityMode "Encrypt" is not one of None, Sign, SignAndEncrypt$/],
      [{ endpointUrl: "opc.tcp://plc1:4840", auth: "username" }, {}, /auth username needs a username$/],
      [{ endpointUrl: "opc.tcp://plc1:4840", auth: "certificate" }, { userCertificate: "x" }, /certificate and private key/],
      [{ endpointUrl: "opc.tcp://plc1:4840", pinnedFingerprints: "12:34" }, {}, /pinnedFingerprints "12:34" is not a SHA-1 or SHA-256 hex fingerprint$/],
      [{ endpointUrl: "opc.tcp://plc1:4840", sessionTimeout: "soon" }, {}, /sessionTimeout must be a number \(got "soon"\)$/],
    ];
    for (const [def, creds, message] of bad) {
      assert.throws(() => parseEndpointConfig(def as never, creds), (e: Error) => e instanceof ConfigError && message.test(e.message), JSON.stringify(def));
    }
  });

  it("a flow saved without a policy (version 1) gets the one its mode implies, as before the schema", () => {
    assert.strictEqual(parseEndpointConfig({ endpointUrl: "opc.tcp://plc1:4840", securityMode: "None" }).securityPolicy, "None");
    assert.strictEqual(parseEndpointConfig({ endpointUrl: "opc.tcp://plc1:4840", securityMode: "Sign", securityPolicy: "" }).securityPolicy, "Basic256Sha256");
    assert.strictEqual(parseEndpointConfig({ endpointUrl: "opc.tcp://plc1:4840" }).securityPolicy, "Basic256Sha256");
    // A saved policy is kept, and checked against the mode, whatever the version says.
    assert.throws(() => parseEndpointConfig({ endpointUrl: "opc.tcp://plc1:4840", securityMode: "None", securityPolicy: "Basic256Sha256", version: 2 }), /must be None/);
  });

  it("without its credentials (lint reads a flow file without them) the identity is not judged", () => {
    assert.strictEqual(parseEndpointConfig({ endpointUrl: "opc.tcp://plc1:4840", auth: "username" }, null).auth, "username");
  });

  it("brings timeouts into range as it always did (the editor never bounded them)", () => {
    const s = parseEndpointConfig({ endpointUrl: "opc.tcp://plc1:4840", sessionTimeout: 5000, keepAliveInterval: "100", requestTimeout: 10_000_000 });
    assert.deepStrictEqual([s.sessionTimeoutMs, s.keepAliveMs, s.requestTimeoutMs], [10_000, 500, 120_000]);
  });

  it("warns (but runs) when security is None", () => {
    const s = parseEndpointConfig({ endpointUrl: "opc.tcp://plc1:4840", securityMode: "None", auth: "username" }, { username: "op" });
    assert.strictEqual(s.warnings.length, 2);
  });

  it("normalises fingerprints and finds the leaf of a DER chain", () => {
    assert.strictEqual(normalizeFingerprint("ab:cd " + "0".repeat(36)), "ABCD" + "0".repeat(36));
    assert.strictEqual(normalizeFingerprint("xyz"), null);
    const leaf = Buffer.from([0x30, 0x03, 1, 2, 3]);
    const long = Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x00]), Buffer.alloc(256, 7)]);
    assert.deepStrictEqual(leafCertificate(Buffer.concat([leaf, long])), leaf);
    assert.strictEqual(leafCertificate(Buffer.concat([long, leaf])).length, 260);
  });
});

describe("otb-opcua-in tag list", () => {
  it("normalises rows from the form (strings) and applies defaults", () => {
    const [t] = parseTags([{ nodeId: " ns=2;s=A ", tag: "a", samplingInterval: "250", deadbandType: "absolute", deadband: "0.5", queueSize: "", unit: "bar" }]);
    assert.deepStrictEqual(t, { nodeId: "ns=2;s=A", tag: "a", samplingInterval: 250, deadbandType: "absolute", deadband: 0.5, queueSize: 10, unit: "bar" });
  });

  it("refuses duplicate tag names, bad deadbands and non-catalog JSON", () => {
    assert.throws(() => parseTags([{ nodeId: "i=1", tag: "a" }, { nodeId: "i=2", tag: "a" }]), /appears twice/);
    assert.throws(() => parseTags([{ nodeId: "i=1", tag: "a", deadbandType: "percent", deadband: 150 }]), /0\.\.100/);
    assert.throws(() => parseTags("{not json"), /not valid JSON/);
    assert.throws(() => parseTags({ rows: [] }), ConfigError);
  });

  it("loads the simulator's tag catalog from flows/catalog as it is", () => {
    const tags = loadCatalog(path.resolve(__dirname, "../../../flows/catalog/simulator-opcua-tags.json"), "/");
    assert.ok(tags.length >= 5);
    const current = tags.find((t) => t.tag === "pump1.motor.current")!;
    assert.strictEqual(current.nodeId, "ns=1;s=line1.pump1.motor.current");
    assert.strictEqual(current.unit, "A");
    assert.strictEqual(current.samplingInterval, -1);
  });

  it("resolves a relative catalog path against the user folder and names the file when it fails", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-cat-"));
    fs.writeFileSync(path.join(dir, "tags.json"), JSON.stringify([{ nodeId: "i=2258", tag: "server.time" }]));
    assert.strictEqual(loadCatalog("tags.json", dir)[0].tag, "server.time");
    assert.throws(() => loadCatalog("missing.json", dir), /missing\.json cannot be read: ENOENT/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("OPC UA DataValue -> Signal", () => {
  const tag = { nodeId: "ns=1;s=T", tag: "t", samplingInterval: 100, deadbandType: "none" as const, deadband: 0, queueSize: 10, unit: "degC" };
  const source = { device: "opc.tcp://plc1:4840" };

  it("maps severity bits to quality", () => {
    assert.strictEqual(qualityOf(StatusCodes.Good), "good");
    assert.strictEqual(qualityOf(StatusCodes.GoodClamped), "good");
    assert.strictEqual(qualityOf(StatusCodes.UncertainSensorNotAccurate), "uncertain");
    assert.strictEqual(qualityOf(StatusCodes.BadCommunicationError), "bad");
  });

  it("keeps the source timestamp and adds opcua:<StatusCode> reasons", () => {
    const ts = new Date("2026-01-02T03:04:05.678Z");
    const dv = new DataValue({ value: new Variant({ dataType: DataType.Float, value: 1.5 }), sourceTimestamp: ts, statusCode: StatusCodes.UncertainLastUsableValue });
    const s = toSignal(tag, dv, source, 0);
    assert.deepStrictEqual(s, { tag: "t", value: 1.5, ts: ts.getTime(), quality: "uncertain", reasons: ["opcua:UncertainLastUsableValue"], unit: "degC", source: { protocol: "opcua", address: "ns=1;s=T", device: source.device } });
    assert.ok(validateSignal(s));
  });

  it("converts scalars and refuses what a Signal cannot carry", () => {
    assert.deepStrictEqual(toSignalValue(DataType.Int64, 0, [0, 5]), { value: 5 });
    assert.deepStrictEqual(toSignalValue(DataType.Int64, 0, [-1, 0xfffffffe]), { value: -2 });
    assert.deepStrictEqual(toSignalValue(DataType.UInt64, 0, [0x7fffffff, 0]), { value: null, problem: "precision_loss" });
    assert.deepStrictEqual(toSignalValue(DataType.DateTime, 0, new Date(5)), { value: 5 });
    assert.deepStrictEqual(toSignalValue(DataType.Double, 0, NaN), { value: null, problem: "not_finite" });
    assert.deepStrictEqual(toSignalValue(DataType.Double, VariantArrayType.Array, [1, 2]), { value: null, problem: "type_mismatch" });
    const arr = new DataValue({ value: new Variant({ dataType: DataType.Double, arrayType: VariantArrayType.Array, value: [1, 2] }) });
    const s = toSignal(tag, arr, source, 42);
    assert.strictEqual(s.quality, "bad");
    assert.deepStrictEqual(s.reasons, ["type_mismatch"]);
    assert.strictEqual(s.ts, 42, "no timestamps: the receive time");
  });
});
