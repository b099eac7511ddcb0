/** otb-opcua-endpoint's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field, type FieldCheck } from "../shared/schema";

export const SECURITY_MODES = ["None", "Sign", "SignAndEncrypt"] as const;
export const SECURITY_POLICIES = ["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] as const;
export const AUTH_KINDS = ["anonymous", "username", "certificate"] as const;

/**
 * Mode and policy are text fields with `values` (the form's select lists them), not enums: each
 * judges the other, and a sample of one alone ("None") is not valid whatever the other says.
 */
const member: FieldCheck = (value, _node, spec) => {
  const values = (spec.values ?? []) as readonly string[];
  return values.includes(String(value).trim()) ? null : `"${String(value)}" is not one of ${values.join(", ")}`;
};

/** OPC UA Part 4 §7.37: mode None goes with policy None only, Sign/SignAndEncrypt with a real policy. */
const policy: FieldCheck = (value, node, spec) => {
  const values = (spec.values ?? []) as readonly string[];
  const p = String(value).trim();
  if (!values.includes(p)) return `"${String(value)}" is not one of ${values.join(", ")}`;
  const mode = String(node.securityMode ?? "").trim() || "SignAndEncrypt";
  if (/^\$\{[^}]+\}$/.test(mode)) return null;
  if (mode === "None" && p !== "None") return `must be None when securityMode is None (got ${p})`;
  if (mode !== "None" && p === "None") return `cannot be None when securityMode is ${mode}`;
  return null;
};

const fingerprints: FieldCheck = (value) => {
  for (const part of String(value).split(/[,;\n]/)) {
    if (!part.trim()) continue;
    const hex = part.replace(/[\s:]/g, "").toUpperCase();
    if (!/^[0-9A-F]{40}$/.test(hex) && !/^[0-9A-F]{64}$/.test(hex)) return `"${part.trim()}" is not a SHA-1 or SHA-256 hex fingerprint`;
  }
  return null;
};

const SHA256 = "AB".repeat(32);

export const schema = defineSchema({
  type: "otb-opcua-endpoint",
  version: 2,
  fields: {
    name: field.text(),
    endpointUrl: field.text({
      default: "opc.tcp://127.0.0.1:4840",
      required: true,
      pattern: "^\\s*opc\\.tcp://[^\\s/:]+(:\\d{1,5})?(/\\S*)?\\s*$",
      patternMessage: "must look like opc.tcp://host:4840",
      samples: { valid: ["opc.tcp://plc1:4840", "opc.tcp://10.0.0.5:4840/UA/Server"], invalid: ["http://plc1", "opc.tcp://", "plc1:4840"] },
    }),
    securityMode: field.text({ default: "SignAndEncrypt", values: SECURITY_MODES, check: "member", samples: { valid: ["Sign"], invalid: ["Encrypt", "none"] } }),
    securityPolicy: field.text({ default: "Basic256Sha256", values: SECURITY_POLICIES, check: "policy", samples: { valid: ["Aes256_Sha256_RsaPss"], invalid: ["None", "Basic128Rsa15"] } }),
    auth: field.oneOf(AUTH_KINDS, "anonymous"),
    /** Pinned server certificate fingerprints (SHA-1 or SHA-256 hex), comma or newline separated. */
    pinnedFingerprints: field.text({ check: "fingerprints", samples: { valid: [`${SHA256}\n${"01".repeat(20)}`, "ab:cd:" + "0".repeat(36)], invalid: ["12:34", `${SHA256}, xyz`] } }),
    // Milliseconds. Out-of-range values are brought into range at deploy (endpoint-config.ts), as
    // they always were: the editor never bounded them, so saved flows may hold such values.
    sessionTimeout: field.number(60_000),
    keepAliveInterval: field.number(5_000),
    requestTimeout: field.number(10_000),
    reconnectMaxDelay: field.number(10_000),
    applicationName: field.text({ default: "otbridge" }),
  },
  credentials: {
    username: { type: "text" },
    password: { type: "password" },
    userCertificate: { type: "password" },
    userPrivateKey: { type: "password" },
  },
  checks: { member, policy, fingerprints },
  migrations: [
    {
      to: 2,
      describe: "a flow that leaves the policy out gets the one its mode implies (None for None, else Basic256Sha256), as the runtime always chose",
      up(def) {
        const policy = def.securityPolicy;
        if (policy !== undefined && policy !== null && String(policy).trim() !== "") return def;
        const mode = String(def.securityMode ?? "").trim();
        return { ...def, securityPolicy: mode === "None" ? "None" : "Basic256Sha256" };
      },
    },
  ],
});
