/**
 * The classifier behind the status and the Catch report, for the failures the end-to-end tests
 * (link-failures.test.ts) cannot stage on loopback: expired certificates, unreachable networks,
 * resets, a banned client, keepalive loss. The errors are shaped as Node's TLS and net layers and
 * mqtt.js raise them (a `code` string, or a numeric CONNACK code).
 */
import { strict as assert } from "assert";
import { brokerDisconnect, classify } from "../../nodes/shared/link-failure";

const err = (message: string, code?: string | number): Error => Object.assign(new Error(message), code === undefined ? {} : { code });

describe("otb-conduit connection failure classes", () => {
  const cases: Array<[Error, string, RegExp]> = [
    [err("certificate has expired", "CERT_HAS_EXPIRED"), "tls-expired", /certificate expired or not yet valid: certificate has expired \(CERT_HAS_EXPIRED\)/],
    [err("unable to verify the first certificate", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"), "tls-untrusted", /untrusted certificate/],
    [err("self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT"), "tls-untrusted", /self-signed/],
    [err("Hostname/IP does not match certificate's altnames: Host: x", "ERR_TLS_CERT_ALTNAME_INVALID"), "tls-hostname", /host name mismatch/],
    [err("error:1C800064:Provider routines::bad decrypt", "ERR_OSSL_BAD_DECRYPT"), "tls-key", /wrong passphrase/],
    [err("error:0A000410:SSL routines::sslv3 alert handshake failure", "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE"), "tls", /TLS handshake failed/],
    [err("connect EHOSTUNREACH 10.0.0.9:8883", "EHOSTUNREACH"), "unreachable", /broker unreachable/],
    [err("read ECONNRESET", "ECONNRESET"), "reset", /connection reset/],
    [err("getaddrinfo EAI_AGAIN broker.plant", "EAI_AGAIN"), "dns", /broker host not found/],
    [err("connect ETIMEDOUT 10.0.0.9:1883", "ETIMEDOUT"), "timeout", /connect timed out/],
    [err("Keepalive timeout"), "timeout", /half-open/],
    [err("connack timeout"), "timeout", /no CONNACK/],
    [err("Connection refused: Bad User Name or Password", 134), "not-authorised", /CONNACK 134/],
    [err("Connection refused: Not authorized", 5), "not-authorised", /CONNACK 5/],
    [err("Connection refused: Banned", 0x8a), "broker-refused", /CONNACK 138/],
    [err("Connection refused: Server unavailable", 3), "broker-refused", /CONNACK 3/],
    [err("something else entirely"), "closed", /connection closed: something else entirely/],
  ];
  for (const [e, cls, text] of cases) {
    it(`${e.message} -> ${cls}`, () => {
      const f = classify(e);
      assert.equal(f.failure, cls);
      assert.match(f.message, text);
      assert.ok(f.summary.length > 0 && f.summary.length <= 45, `a summary short enough for a status line: "${f.summary}"`);
    });
  }

  it("a broker DISCONNECT names its reason code and reason string", () => {
    assert.match(brokerDisconnect(0x8e).message, /broker disconnected us: reason code 0x8e session taken over/);
    assert.match(brokerDisconnect(0x98, "kicked by admin").message, /0x98 administrative action: kicked by admin/);
    assert.match(brokerDisconnect(0xfe).message, /0xfe reason unknown/);
  });
});
