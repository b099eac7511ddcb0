/**
 * Bounds node-opcua's Republish loop on one session, whatever the server answers.
 *
 * After a broken channel, node-opcua (client_publish_engine_reconnection.js) asks Republish for
 * lastSequenceNumber + 1 in a loop until the server answers BadMessageNotAvailable (OPC UA Part 4
 * §5.13.6 and §6.7). Some servers and PLCs answer Good with an empty NotificationMessage instead
 * (sequence number 0, no data); node-opcua then sets lastSequenceNumber to 0, asks again at once,
 * and loops for ever: about 1,760 requests per second were measured against such a server, with
 * no data and the status stuck on "reconnecting".
 *
 * The guard replaces `republish` on the session object (node-opcua keeps that object across a
 * session repair) and enforces, per recovery (a recovery starts at every `connection_lost`):
 * - at most one Republish request every REPUBLISH_MIN_INTERVAL_MS (a cap of 20 per second);
 * - a Good answer with an empty message is read as what it means, "no such message", and ends the
 *   loop as BadMessageNotAvailable would: normal Publish resumes on the session, whose queues
 *   still hold what was sampled during the break, so nothing is lost;
 * - a Good answer carrying another message than the one asked for, or more than
 *   REPUBLISH_MAX_PER_RECOVERY requests, is a server that cannot be trusted to end the loop: it
 *   is ended and `onTrip` is called with the reason; the endpoint then drops the session and
 *   builds a new one.
 */
import { StatusCodes, type ClientSession, type RepublishRequest, type RepublishResponse } from "node-opcua-client";

export const REPUBLISH_MIN_INTERVAL_MS = 50;
export const REPUBLISH_MAX_PER_RECOVERY = 100;

type Callback = (err: Error | null, response?: RepublishResponse) => void;
type RepublishFn = (request: RepublishRequest, callback: Callback) => void;

export class RepublishGuard {
  /** Requests sent in the current recovery. */
  sent = 0;
  /** Requests sent since the guard was installed, for diagnostics. */
  total = 0;
  /**
   * Good answers with an empty message, taken as BadMessageNotAvailable (OPC UA Part 4 §5.13.6
   * requires that status; some servers and PLCs answer Good and an empty message instead).
   */
  emptyAnswers = 0;
  private lastSentAt = 0;
  private tripped: string | null = null;

  constructor(
    session: ClientSession,
    private readonly onTrip: (reason: string) => void,
  ) {
    const original = (session as unknown as { republish: RepublishFn }).republish.bind(session);
    const guarded = (request: RepublishRequest, callback?: Callback): Promise<RepublishResponse> | void => {
      if (!callback) {
        return new Promise((resolve, reject) => guarded(request, (err, r) => (err ? reject(err) : resolve(r!))));
      }
      this.send(original, request, callback);
    };
    (session as unknown as { republish: typeof guarded }).republish = guarded;
  }

  /** A new recovery: the per-recovery bounds start again. */
  reset(): void {
    this.sent = 0;
    this.tripped = null;
  }

  private send(original: RepublishFn, request: RepublishRequest, callback: Callback): void {
    if (this.tripped) return callback(endOfLoop(this.tripped));
    if (this.sent >= REPUBLISH_MAX_PER_RECOVERY) {
      return this.trip(`the server kept answering Republish: ${REPUBLISH_MAX_PER_RECOVERY} requests in one recovery`, callback);
    }
    const wait = this.lastSentAt + REPUBLISH_MIN_INTERVAL_MS - Date.now();
    if (wait > 0) {
      setTimeout(() => this.send(original, request, callback), wait);
      return;
    }
    this.sent++;
    this.total++;
    this.lastSentAt = Date.now();
    original(request, (err, response) => {
      if (this.tripped) return callback(endOfLoop(this.tripped));
      if (err || !response) return callback(err, response);
      const message = response.notificationMessage;
      const good = response.responseHeader.serviceResult.equals(StatusCodes.Good);
      const data = message?.notificationData ?? [];
      if (good && data.length === 0) {
        this.emptyAnswers++;
        return callback(endOfLoop(`Good with an empty message for ${request.retransmitSequenceNumber}`));
      }
      if (good && message.sequenceNumber !== request.retransmitSequenceNumber) {
        return this.trip(
          `the server answered Republish for message ${request.retransmitSequenceNumber} with message ${message.sequenceNumber}`,
          callback,
        );
      }
      callback(null, response);
    });
  }

  private trip(reason: string, callback: Callback): void {
    const first = this.tripped === null;
    this.tripped = reason;
    callback(endOfLoop(reason));
    if (first) this.onTrip(reason);
  }
}

/** node-opcua ends its loop on an error whose message names BadMessageNotAvailable. */
function endOfLoop(reason: string): Error {
  return new Error(`BadMessageNotAvailable (republish stopped by otbridge: ${reason})`);
}
