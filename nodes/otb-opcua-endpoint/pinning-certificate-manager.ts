/**
 * Server certificate trust that is never automatic. node-opcua's default certificate manager
 * accepts unknown server certificates (automaticallyAcceptUnknownCertificate: true, see
 * reliability.md finding 6); this one refuses them unless
 *   - the certificate is in the PKI's trusted/certs folder (an administrator put it there), or
 *   - its SHA-1 or SHA-256 fingerprint is pinned in this endpoint's configuration.
 * A pin overrides only "untrusted": an expired or otherwise invalid pinned certificate is still
 * refused. The last refused certificate is kept so the endpoint can name it in its error.
 */
import * as crypto from "crypto";
import { OPCUACertificateManager } from "node-opcua-certificate-manager";
import { StatusCodes, type StatusCode } from "node-opcua-client";

export interface CertificateFacts {
  sha1: string;
  sha256: string;
  subject: string;
  validTo: string;
  status: string;
}

type Callback = (err: Error | null, status?: StatusCode) => void;

export class PinningCertificateManager extends OPCUACertificateManager {
  lastRefused: CertificateFacts | null = null;

  constructor(rootFolder: string, private readonly pins: readonly string[]) {
    super({ rootFolder, automaticallyAcceptUnknownCertificate: false, disableFileWatchers: true });
    this.automaticallyAcceptUnknownCertificate = false;
  }

  checkCertificate(chain: Buffer | Buffer[]): Promise<StatusCode>;
  checkCertificate(chain: Buffer | Buffer[], callback: Callback): void;
  checkCertificate(chain: Buffer | Buffer[], callback?: Callback): Promise<StatusCode> | void {
    const result = this.check(chain);
    if (!callback) return result;
    result.then((s) => callback(null, s), (err: Error) => callback(err));
  }

  private async check(chain: Buffer | Buffer[]): Promise<StatusCode> {
    const first = Array.isArray(chain) ? chain[0] : chain;
    if (first === undefined) return StatusCodes.BadCertificateInvalid; // an empty chain: nothing to trust
    const leaf = leafCertificate(first);
    const facts = describeCertificate(leaf);
    const status = await super.checkCertificate(chain);
    if (status.isGood()) return status;
    if (status.equals(StatusCodes.BadCertificateUntrusted) && (this.pins.includes(facts.sha1) || this.pins.includes(facts.sha256))) {
      return StatusCodes.Good;
    }
    this.lastRefused = { ...facts, status: status.name };
    return status;
  }
}

/** The first certificate of a DER chain (OPC UA sends chains as concatenated DER). */
export function leafCertificate(der: Buffer): Buffer {
  const first = der[1];
  if (first === undefined || der[0] !== 0x30) return der;
  if (first < 0x80) return der.subarray(0, 2 + first);
  const n = first & 0x7f;
  if (n === 0 || n > 4 || der.length < 2 + n) return der;
  return der.subarray(0, Math.min(der.length, 2 + n + der.readUIntBE(2, n)));
}

export function describeCertificate(der: Buffer): Omit<CertificateFacts, "status"> {
  const leaf = leafCertificate(der);
  const sha1 = crypto.createHash("sha1").update(leaf).digest("hex").toUpperCase();
  const sha256 = crypto.createHash("sha256").update(leaf).digest("hex").toUpperCase();
  let subject = "";
  let validTo = "";
  try {
    const x = new crypto.X509Certificate(leaf);
    subject = x.subject.replace(/\n/g, ", ");
    validTo = new Date(x.validTo).toISOString();
  } catch {
    // Not parseable by OpenSSL: the fingerprints still identify it.
  }
  return { sha1, sha256, subject, validTo };
}
