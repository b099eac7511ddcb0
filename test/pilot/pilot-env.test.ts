/**
 * cli/pilot-env.ts: which value each OTB_* variable of the pilot gets (the caller's environment,
 * else what `otbridge start` started, else the simulator defaults), and the pinned fingerprint of
 * the simulator's OPC UA certificate.
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { opensslEnv } from "../helpers/peers";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PILOT_ENV_DEFAULTS, pilotEnv, simulatorOpcuaFingerprint } from "../../cli/pilot-env";

const FLOW = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../../flows/single-line-pilot.json"), "utf8")) as Array<Record<string, unknown>>;

describe("pilot environment (cli/pilot-env.ts)", () => {
  it("the caller's environment wins, then what start launched, then the defaults; derived values follow the line identity", () => {
    const env = pilotEnv("/repo", "/data", { OTB_OPCUA_URL: "opc.tcp://127.0.0.1:50000", OTB_CONDUIT_URL: "mqtt://127.0.0.1:1999" }, { OTB_CONDUIT_URL: "mqtts://dmz.example:8883", OTB_LINE: "line7", OTB_MODBUS_HOST: "" });
    assert.equal(env.OTB_CONDUIT_URL, "mqtts://dmz.example:8883");
    assert.equal(env.OTB_OPCUA_URL, "opc.tcp://127.0.0.1:50000");
    assert.equal(env.OTB_MODBUS_HOST, "127.0.0.1", "an empty variable counts as unset");
    assert.equal(env.OTB_CONDUIT_TOPICS, "acme/plant1/pumps/line7/#");
    assert.equal(env.OTB_MODEL_PATH, path.join("/repo", "flows", "models", "pilot-pump.onnx"));
    assert.equal(env.OTB_CONDUIT_QUEUE_DIR, path.join("/data", "conduit-queue"));
  });

  it("every ${OTB_*} the pilot flow reads is a pilot variable with a default in the flow itself", () => {
    const text = JSON.stringify(FLOW.filter((n) => n.type !== "global-config"));
    const used = new Set([...text.matchAll(/\$\{(OTB_[A-Z0-9_]+)\}/g)].map((m) => m[1]));
    const flowDefaults = new Set(((FLOW.find((n) => n.type === "global-config")?.env ?? []) as Array<{ name: string }>).map((e) => e.name));
    for (const v of used) {
      assert.ok(v in PILOT_ENV_DEFAULTS, `${v} is in PILOT_ENV_DEFAULTS`);
      assert.ok(flowDefaults.has(v), `${v} has a default in the flow's global-config`);
    }
    assert.ok(used.size >= 15, `${used.size} variables`);
  });

  it("pins the simulator's OPC UA server certificate by its SHA-256 fingerprint", () => {
    const pki = fs.mkdtempSync(path.join(os.tmpdir(), "otb-pki-"));
    try {
      assert.equal(simulatorOpcuaFingerprint(pki), null);
      const dir = path.join(pki, "server", "own", "certs");
      fs.mkdirSync(dir, { recursive: true });
      const pem = path.join(dir, "certificate.pem");
      execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(pki, "key.pem"), "-out", pem, "-days", "1", "-subj", "/CN=sim"], { stdio: "ignore", env: opensslEnv() });
      const der = Buffer.from(fs.readFileSync(pem, "utf8").replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64");
      assert.equal(simulatorOpcuaFingerprint(pki), createHash("sha256").update(der).digest("hex").toUpperCase());
    } finally {
      fs.rmSync(pki, { recursive: true, force: true });
    }
  });
});
