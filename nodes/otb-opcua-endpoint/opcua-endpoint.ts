/**
 * One OPC UA client session per endpoint, shared by every otb-opcua-in that uses it.
 *
 * Two layers of recovery, each doing what it is good at:
 * - SharedConnection (nodes/shared) owns the first connect and any full restart: capped
 *   exponential backoff with jitter, status fan-out to the `users`, close with the last user.
 * - node-opcua's own reconnection (OPC UA Part 4 §6.7) repairs a broken secure channel behind
 *   an open session: it reactivates the session and Republishes what was lost, or creates a new
 *   session and transfers or re-creates the subscriptions. Users see "link-lost" when the
 *   channel breaks and "link-restored" when it is back, and keep their subscription objects.
 * If the session itself is closed under us, the connection is declared lost and SharedConnection
 * opens a fresh one; users then re-create their subscriptions on the new session.
 *
 * Recovery is bounded whatever the server answers (issue 14):
 * - Republish is rate-capped, a Good answer with an empty message ends its loop as "no such
 *   message", and a nonsensical answer or too many requests drop the session (RepublishGuard);
 * - a repair that has not finished `recoveryMaxMs` after the link broke (the session timeout:
 *   beyond it the server has dropped the session anyway) is abandoned;
 * a dropped session (`fail`) is closed and SharedConnection builds a new one.
 * An outage (link lost, session dropped, connect failing) is announced once with "outage"
 * (reason) and ends with "recovered" when a user's subscription answers again (`confirm`), so
 * the config node reports it once per outage.
 */
import { EventEmitter } from "events";
import * as fs from "fs";
import * as crypto from "crypto";
import {
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  UserTokenType,
  type ClientSession,
  type UserIdentityInfo,
} from "node-opcua-client";
import { ConnectionError, SharedConnection, toError, type BackoffOptions } from "../shared";
import { formatFingerprint, type EndpointSettings } from "./endpoint-config";
import { PinningCertificateManager } from "./pinning-certificate-manager";
import { RepublishGuard } from "./republish-guard";

export interface OpcuaSession {
  client: OPCUAClient;
  session: ClientSession;
  certificates: PinningCertificateManager;
  /** Set once we close it ourselves, so its events are ignored from then on. */
  closing: boolean;
  republish: RepublishGuard | null;
}

/** Bound on our own close work: well under Node-RED's 15 s close timeout. */
const CLOSE_STEP_MS = 2_500;

export class OpcuaEndpoint extends EventEmitter {
  readonly conn: SharedConnection<OpcuaSession>;
  /** True while node-opcua repairs a broken channel behind the open session. */
  linkDown = false;
  /** The reason of the outage in progress, null while the endpoint works. */
  outage: string | null = null;
  /** The longest a channel repair may take before the session is dropped and rebuilt. */
  readonly recoveryMaxMs: number;
  private recoveryTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly settings: EndpointSettings,
    readonly pkiDir: string,
    backoff?: BackoffOptions,
  ) {
    super();
    this.conn = new SharedConnection<OpcuaSession>(
      { open: () => this.open(), close: (s) => this.closeSession(s) },
      backoff ?? { initialMs: 1_000, maxMs: settings.reconnectMaxDelayMs, factor: 2, jitter: 0.2 },
    );
    this.recoveryMaxMs = settings.sessionTimeoutMs;
    this.conn.on("state", (state: string, detail?: string) => {
      if (state === "disconnected") this.beginOutage(detail || "disconnected");
      else this.clearRecoveryTimer();
    });
  }

  /**
   * A user's subscription answered (data or keep-alive): the outage, if any, is over. Connected
   * is not enough: a server that accepts sessions but never answers Publish is still an outage,
   * and restarting the session for it must not report it again.
   */
  confirm(): void {
    this.endOutage();
  }

  /** Drops the session (its events are ignored from now on) and lets SharedConnection build a new one. */
  fail(reason: string): void {
    this.clearRecoveryTimer();
    this.linkDown = false;
    this.conn.lost(new ConnectionError(reason));
  }

  private beginOutage(reason: string): void {
    if (this.outage !== null) return;
    this.outage = reason;
    this.emit("outage", reason);
  }

  private endOutage(): void {
    if (this.outage === null) return;
    this.outage = null;
    this.emit("recovered");
  }

  private clearRecoveryTimer(): void {
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
    this.recoveryTimer = null;
  }

  get session(): ClientSession | null {
    return this.conn.client?.session ?? null;
  }

  private async open(): Promise<OpcuaSession> {
    const s = this.settings;
    fs.mkdirSync(this.pkiDir, { recursive: true });
    const certificates = new PinningCertificateManager(this.pkiDir, s.pinnedFingerprints);
    await certificates.initialize();
    const client = OPCUAClient.create({
      applicationName: s.applicationName,
      clientName: s.applicationName,
      clientCertificateManager: certificates,
      securityMode: MessageSecurityMode[s.securityMode],
      securityPolicy: SecurityPolicy[s.securityPolicy],
      endpointMustExist: false,
      // maxRetry 1: the first connect fails fast and SharedConnection backs off; a channel that
      // breaks later is repaired by node-opcua with infinite retries up to maxDelay.
      connectionStrategy: { maxRetry: 1, initialDelay: 500, maxDelay: s.reconnectMaxDelayMs, randomisationFactor: 0.2 },
      requestedSessionTimeout: s.sessionTimeoutMs,
      keepSessionAlive: true,
      keepAliveInterval: s.keepAliveMs,
      defaultTransactionTimeout: s.requestTimeoutMs,
      // A silent (black-holed) link is noticed after this long without a byte from the server.
      transportTimeout: Math.max(3 * s.keepAliveMs, 3_000),
    });
    const entry: OpcuaSession = { client, session: null as unknown as ClientSession, certificates, closing: false, republish: null };
    client.on("connection_lost", () => {
      if (entry.closing) return;
      this.linkDown = true;
      entry.republish?.reset();
      this.clearRecoveryTimer();
      this.recoveryTimer = setTimeout(() => {
        this.recoveryTimer = null;
        if (!entry.closing) this.fail(`the link did not recover within ${Math.round(this.recoveryMaxMs / 1000)} s; dropping the session and creating a new one`);
      }, this.recoveryMaxMs);
      this.emit("link-lost", "connection lost");
      this.beginOutage("connection lost");
    });
    client.on("connection_reestablished", () => {
      if (entry.closing) return;
      this.linkDown = false;
      this.clearRecoveryTimer();
      this.emit("link-restored");
    });
    client.on("backoff", (count: number, delay: number) => this.emit("retry", count, delay));
    try {
      await client.connect(s.endpointUrl);
      entry.session = await client.createSession(this.identity());
    } catch (err) {
      entry.closing = true;
      await bounded(client.disconnect(), CLOSE_STEP_MS);
      await bounded(certificates.dispose(), CLOSE_STEP_MS);
      throw this.explain(err, certificates);
    }
    entry.republish = new RepublishGuard(entry.session, (reason) => {
      if (!entry.closing) this.fail(`${reason}; dropping the session and creating a new one`);
    });
    entry.session.on("session_closed", () => {
      if (entry.closing) return;
      this.conn.lost(new ConnectionError("the server closed the session"));
    });
    this.linkDown = false;
    return entry;
  }

  private async closeSession(entry: OpcuaSession): Promise<void> {
    entry.closing = true;
    // Subscriptions are deleted with the session, so none is left behind on the server.
    if (entry.session) await bounded(entry.session.close(true), CLOSE_STEP_MS);
    await bounded(entry.client.disconnect(), CLOSE_STEP_MS);
    await bounded(entry.certificates.dispose(), CLOSE_STEP_MS);
  }

  private identity(): UserIdentityInfo {
    const { auth, credentials } = this.settings;
    if (auth === "username") {
      return { type: UserTokenType.UserName, userName: credentials.username ?? "", password: credentials.password ?? "" };
    }
    if (auth === "certificate") {
      const der = new crypto.X509Certificate(credentials.userCertificate ?? "").raw;
      return { type: UserTokenType.Certificate, certificateData: der, privateKey: credentials.userPrivateKey ?? "" } as UserIdentityInfo;
    }
    return { type: UserTokenType.Anonymous };
  }

  /** Turns node-opcua's errors into ones an OT engineer can act on. */
  private explain(err: unknown, certificates: PinningCertificateManager): Error {
    const e = toError(err);
    const refused = certificates.lastRefused;
    if (refused) {
      return new ConnectionError(
        `server certificate refused (${refused.status}): SHA-256 ${formatFingerprint(refused.sha256)}` +
          `${refused.subject ? `, subject ${refused.subject}` : ""}. Check it with the plant's records, then pin that ` +
          `fingerprint in the endpoint or move its file from ${this.pkiDir}/rejected to ${this.pkiDir}/trusted/certs`,
        refused,
      );
    }
    if (/BadIdentityTokenRejected|BadUserAccessDenied|BadIdentityTokenInvalid/.test(e.message)) {
      return new ConnectionError(`the server refused the user identity (${this.settings.auth}): ${e.message}`);
    }
    if (/Cannot find an Endpoint matching|cannot find endpoint/i.test(e.message)) {
      return new ConnectionError(`the server offers no endpoint with security ${this.settings.securityMode} / ${this.settings.securityPolicy}`);
    }
    const [firstLine = ""] = e.message.split("\n");
    return new ConnectionError(firstLine);
  }
}

/** Waits for `p`, but not longer than `ms`, and never rejects: used on close paths. */
export async function bounded(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
