/**
 * Why an MQTT connection (an otb-conduit's, an otb-mqtt-broker's) failed, in words a user can act
 * on. mqtt.js and Node's TLS stack report a refused CONNACK as a numeric code, a certificate
 * problem as an OpenSSL/Node code and a socket problem as an errno string; each is sorted into
 * one class with a short summary (for the status line) and the full detail with a hint (for Catch
 * and the log).
 */
import { ConnectionError, toError } from "./errors";

export type FailureClass =
  | "refused" | "dns" | "timeout" | "unreachable" | "reset" | "closed"
  | "not-authorised" | "broker-refused" | "broker-disconnect"
  | "tls-untrusted" | "tls-hostname" | "tls-expired" | "tls-key" | "tls";

const SUMMARY: Record<FailureClass, string> = {
  refused: "connection refused",
  dns: "broker host not found",
  timeout: "connect timed out",
  unreachable: "broker unreachable",
  reset: "connection reset",
  closed: "connection closed",
  "not-authorised": "not authorised",
  "broker-refused": "broker refused the connection",
  "broker-disconnect": "broker disconnected us",
  "tls-untrusted": "untrusted certificate",
  "tls-hostname": "certificate host name mismatch",
  "tls-expired": "certificate expired or not yet valid",
  "tls-key": "client key unusable (wrong passphrase?)",
  tls: "TLS handshake failed",
};

const HINT: Partial<Record<FailureClass, string>> = {
  refused: "is the broker running and is the port right?",
  dns: "check the broker's host name",
  timeout: "the broker or a firewall did not answer",
  "not-authorised": "check the user name and password, and the broker's ACL",
  "tls-untrusted": "the server's certificate is self-signed or not signed by the configured CA file",
  "tls-hostname": "the certificate does not name the host in the broker URL (or the configured server name)",
  "tls-key": "check the key file and its passphrase",
};

/** MQTT 5 CONNACK/DISCONNECT reason codes (spec 3.2.2.2, 3.14.2.1) and MQTT 3.1.1 CONNACK return codes. */
const MQTT5_REASONS: Record<number, string> = {
  0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error", 0x83: "implementation specific error",
  0x84: "unsupported protocol version", 0x85: "client identifier not valid", 0x86: "bad user name or password",
  0x87: "not authorised", 0x88: "server unavailable", 0x89: "server busy", 0x8a: "banned", 0x8b: "server shutting down",
  0x8c: "bad authentication method", 0x8d: "keep alive timeout", 0x8e: "session taken over", 0x90: "topic name invalid",
  0x93: "receive maximum exceeded", 0x95: "packet too large", 0x96: "message rate too high", 0x97: "quota exceeded",
  0x98: "administrative action", 0x9c: "use another server", 0x9d: "server moved", 0x9f: "connection rate exceeded",
};

const UNTRUSTED = new Set(["SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_UNTRUSTED", "CERT_REJECTED", "CERT_SIGNATURE_FAILURE",
  "INVALID_CA", "CERT_REVOKED"]);

/** Which of the conduit's brokers, 1-based: "mqtt://b:1883 (2 of 2)". */
export interface BrokerPosition {
  url: string;
  index: number;
  count: number;
}

export function describeBroker(b: BrokerPosition): string {
  return b.count > 1 ? `${b.url} (${b.index} of ${b.count})` : b.url;
}

export class LinkFailure extends ConnectionError {
  readonly summary: string;
  /** The broker this failure happened on (set by mqtt-link.ts). */
  broker?: BrokerPosition;
  constructor(readonly failure: FailureClass, detail: string) {
    const hint = HINT[failure];
    super(`${SUMMARY[failure]}: ${detail}${hint ? ` (${hint})` : ""}`);
    this.summary = SUMMARY[failure];
  }

  /** Names the broker it happened on; returns this. */
  at(broker: BrokerPosition): this {
    this.broker = broker;
    return this;
  }
}

/** The broker sent DISCONNECT with this reason code. */
export function brokerDisconnect(code: number, reasonString?: string): LinkFailure {
  const name = MQTT5_REASONS[code] ?? (code === 0 ? "normal disconnection" : "reason unknown");
  return new LinkFailure("broker-disconnect", `reason code 0x${code.toString(16).padStart(2, "0")} ${name}${reasonString ? `: ${reasonString}` : ""}`);
}

export function classify(raw: unknown): LinkFailure {
  if (raw instanceof LinkFailure) return raw;
  const err = toError(raw);
  const code = (err as { code?: unknown }).code;
  const msg = err.message;
  const detail = typeof code === "string" && !msg.includes(code) ? `${msg} (${code})` : msg;
  if (typeof code === "number") {
    // CONNACK: v5 0x86/0x87, v3.1.1 return codes 4 (bad user name or password) and 5 (not authorised).
    if (code === 0x86 || code === 0x87 || code === 4 || code === 5) return new LinkFailure("not-authorised", `${msg} (CONNACK ${code})`);
    const name = MQTT5_REASONS[code];
    return new LinkFailure("broker-refused", `${msg} (CONNACK ${code}${name && !msg.toLowerCase().includes(name) ? ` ${name}` : ""})`);
  }
  const c = typeof code === "string" ? code : "";
  if (UNTRUSTED.has(c)) return new LinkFailure("tls-untrusted", detail);
  if (c === "ERR_TLS_CERT_ALTNAME_INVALID" || /altnames|does not match certificate/i.test(msg)) return new LinkFailure("tls-hostname", detail);
  if (c === "CERT_HAS_EXPIRED" || c === "CERT_NOT_YET_VALID") return new LinkFailure("tls-expired", detail);
  if (/BAD_DECRYPT|bad decrypt|BAD_PASSWORD|PEM_read|key values mismatch|KEY_VALUES_MISMATCH|unsupported|DECODER/i.test(`${c} ${msg}`)) {
    return new LinkFailure("tls-key", detail);
  }
  if (/^ERR_SSL|^ERR_TLS|^ERR_OSSL/.test(c) || /ssl|tls|handshake|alert/i.test(msg)) return new LinkFailure("tls", detail);
  if (/keepalive timeout/i.test(msg)) return new LinkFailure("timeout", `no answer to PINGREQ within 1.5 x keepalive, a half-open link? (${msg})`);
  if (/connack timeout/i.test(msg)) return new LinkFailure("timeout", `no CONNACK within the connect timeout (${msg})`);
  switch (c) {
    case "ECONNREFUSED": return new LinkFailure("refused", detail);
    case "ENOTFOUND": case "EAI_AGAIN": case "EAI_FAIL": case "EAI_NONAME": return new LinkFailure("dns", detail);
    case "ETIMEDOUT": case "ESOCKETTIMEDOUT": return new LinkFailure("timeout", detail);
    case "EHOSTUNREACH": case "ENETUNREACH": case "EHOSTDOWN": case "ENETDOWN": return new LinkFailure("unreachable", detail);
    case "ECONNRESET": case "EPIPE": case "ECONNABORTED": return new LinkFailure("reset", detail);
  }
  return new LinkFailure("closed", detail);
}
