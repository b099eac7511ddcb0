/**
 * Certificate trust and user identity against a SignAndEncrypt / Basic256Sha256 server that
 * requires a username: unknown server certificates are refused with the fingerprint in the
 * error, a pinned or trusted one is accepted, and the editor's admin endpoints show the
 * certificate and browse the server.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MessageSecurityMode, OPCUACertificateManager, SecurityPolicy } from "node-opcua";
import { helper } from "../helpers/red";
import { delay, freePort, waitFor } from "../helpers/peers";
import { formatFingerprint } from "../../nodes/otb-opcua-endpoint/endpoint-config";
import { nodes, opcuaFlow, Recorder, tag, useClientPki } from "./flows";
import { startTestServer, type TestServer } from "./opcua-test-server";

describe("otb-opcua-endpoint security (SignAndEncrypt, username)", function () {
  this.timeout(60_000);
  let server: TestServer;
  let pki: ReturnType<typeof useClientPki>;
  const secure = { securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256", auth: "username" };
  const credentials = { ep: { username: "operator", password: "s3cret" } };
  const tags = [tag("ns=1;s=Temperature", "oven.temperature")];

  before(async () => {
    pki = useClientPki();
    server = await startTestServer({
      port: await freePort(),
      securityModes: [MessageSecurityMode.SignAndEncrypt],
      securityPolicies: [SecurityPolicy.Basic256Sha256],
      allowAnonymous: false,
      users: { operator: "s3cret" },
    });
  });
  after(async () => {
    await server.close();
    pki.restore();
  });
  afterEach(() => helper.unload());

  it("refuses an unpinned server certificate with a clear error naming its fingerprint", async () => {
    await helper.load(nodes, opcuaFlow(server.endpointUrl, tags, { endpoint: secure }), credentials);
    const rec = new Recorder();
    await waitFor(() => rec.errors.length > 0, 15_000, "a caught error");
    assert.match(rec.errors[0], /server certificate refused \(BadCertificateUntrusted\)/);
    assert.ok(rec.errors[0].includes(formatFingerprint(server.sha256)), `error names the SHA-256 fingerprint: ${rec.errors[0]}`);
    await waitFor(() => rec.lastStatus()?.fill === "red", 5_000, "red status");
    assert.strictEqual(rec.batches.length, 0);
    assert.strictEqual(server.sessionCount(), 0, "no session was opened");
    const rejected = fs.readdirSync(path.join(pki.dir, "rejected"));
    assert.ok(rejected.length >= 1, "the refused certificate is kept in rejected/ for review");
    assert.ok(!fs.existsSync(path.join(pki.dir, "trusted", "certs")) || fs.readdirSync(path.join(pki.dir, "trusted", "certs")).length === 0, "nothing was trusted automatically");
  });

  it("connects with the pinned fingerprint and a username, and data flows", async () => {
    const pinned = { ...secure, pinnedFingerprints: formatFingerprint(server.sha256) };
    await helper.load(nodes, opcuaFlow(server.endpointUrl, tags, { endpoint: pinned }), credentials);
    const rec = new Recorder();
    await waitFor(() => rec.signals("oven.temperature").length > 0, 15_000, "data over SignAndEncrypt");
    assert.strictEqual(rec.signals("oven.temperature")[0].quality, "good");
    assert.deepStrictEqual(rec.errors, []);
    assert.strictEqual(server.sessionCount(), 1);
  });

  it("refuses a wrong password with an identity error, and does not flood Catch while retrying", async () => {
    const pinned = { ...secure, pinnedFingerprints: server.sha1 };
    await helper.load(nodes, opcuaFlow(server.endpointUrl, tags, { endpoint: pinned }), { ep: { username: "operator", password: "wrong" } });
    const rec = new Recorder();
    await waitFor(() => rec.errors.length > 0, 15_000, "a caught error");
    assert.match(rec.errors[0], /refused the user identity \(username\)/);
    await delay(3_000); // several retries at 1-2 s backoff
    assert.strictEqual(rec.errors.length, 1, "the same failure is reported once");
    assert.strictEqual(rec.batches.length, 0);
  });

  it("authenticates with an X.509 user certificate held in credentials", async () => {
    // A user certificate and key made the way an operator's would be (node-opcua's own PKI tooling).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-opcua-user-"));
    const userPki = new OPCUACertificateManager({ rootFolder: dir, disableFileWatchers: true });
    await userPki.initialize();
    const certFile = path.join(dir, "operator.pem");
    await userPki.createSelfSignedCertificate({ applicationUri: "urn:otbridge:operator", subject: "/CN=operator", dns: [], startDate: new Date(), validity: 2, outputFile: certFile });
    const userCertificate = fs.readFileSync(certFile, "utf8");
    const userPrivateKey = fs.readFileSync(path.join(dir, "own", "private", "private_key.pem"), "utf8");
    await userPki.dispose();
    const x509 = { ...secure, auth: "certificate", pinnedFingerprints: server.sha256 };
    const creds = { ep: { userCertificate, userPrivateKey } };
    fs.rmSync(dir, { recursive: true, force: true });
    await helper.load(nodes, opcuaFlow(server.endpointUrl, tags, { endpoint: x509 }), creds);
    const rec = new Recorder();
    await waitFor(() => rec.signals("oven.temperature").length > 0, 15_000, "data with an X.509 user identity").catch((err: Error) => {
      throw new Error(`${err.message}; errors: ${rec.errors.join(" / ")}`);
    });
  });

  it("trusts a certificate an administrator moved from rejected/ to trusted/certs, without a pin", async () => {
    // As the refusal message instructs: the certificate refused by the first test is moved.
    const rejectedDir = path.join(pki.dir, "rejected");
    const trusted = path.join(pki.dir, "trusted", "certs");
    fs.mkdirSync(trusted, { recursive: true });
    const [file] = fs.readdirSync(rejectedDir).filter((f) => f.endsWith(".pem"));
    assert.ok(file, "the refused certificate is in rejected/");
    fs.renameSync(path.join(rejectedDir, file), path.join(trusted, file));
    await helper.load(nodes, opcuaFlow(server.endpointUrl, tags, { endpoint: secure }), credentials);
    const rec = new Recorder();
    await waitFor(() => rec.signals("oven.temperature").length > 0, 15_000, "data with a trusted-folder certificate");
    fs.rmSync(path.join(trusted, file));
  });

  it("shows the server's certificate fingerprints to the editor (admin endpoint)", async () => {
    await helper.load(nodes, opcuaFlow(server.endpointUrl, tags, { endpoint: secure }), credentials);
    const res = await helper.request().get("/otb-opcua-endpoint/certificates").query({ url: server.endpointUrl }).expect(200);
    const offered = res.body.endpoints as Array<{ securityMode: string; securityPolicy: string; certificate: { sha256: string; sha1: string } }>;
    const match = offered.find((e) => e.securityMode === "SignAndEncrypt" && e.securityPolicy === "Basic256Sha256");
    assert.ok(match, JSON.stringify(offered));
    assert.strictEqual(match.certificate.sha256, server.sha256);
    assert.strictEqual(match.certificate.sha1, server.sha1);
    const bad = await helper.request().get("/otb-opcua-endpoint/certificates").query({ url: "http://example.com" }).expect(400);
    assert.match(bad.body.error, /not an opc\.tcp:\/\/ URL/);
  });

  it("browses the server through the deployed endpoint's session (admin endpoint)", async () => {
    const pinned = { ...secure, pinnedFingerprints: server.sha256 };
    await helper.load(nodes, opcuaFlow(server.endpointUrl, tags, { endpoint: pinned }), credentials);
    const rec = new Recorder();
    await waitFor(() => rec.batches.length > 0, 15_000, "connected");
    const res = await helper.request().get("/otb-opcua-endpoint/ep/browse").expect(200);
    const entries = res.body.entries as Array<{ nodeId: string; browseName: string; nodeClass: string; expandable: boolean }>;
    const temp = entries.find((e) => e.browseName.endsWith("Temperature"));
    assert.ok(temp, JSON.stringify(entries.map((e) => e.browseName)));
    assert.strictEqual(temp.nodeId, "ns=1;s=Temperature");
    assert.strictEqual(temp.nodeClass, "Variable");
    const bulk = entries.find((e) => e.browseName.endsWith("Bulk"));
    assert.ok(bulk?.expandable);
    await helper.request().get("/otb-opcua-endpoint/ep/browse").query({ nodeId: bulk.nodeId }).expect(200);
    await helper.request().get("/otb-opcua-endpoint/nope/browse").expect(404);
  });
});
