/**
 * The Node-RED contracts every otb node follows, in one place:
 * - input handlers keep the 3-parameter arity (the runtime checks `callback.length === 3`),
 *   always finish with done(), and any throw or rejection becomes done(err) so Catch nodes fire;
 * - close handlers keep the 2-parameter arity so the runtime passes `removed`, and finish within
 *   a bounded time well under Node-RED's 15 s nodeCloseTimeout, whatever the library does;
 * - errors raised outside an input handler (a poll, a subscription) still reach Catch nodes,
 *   because node.error() only routes to Catch when it is given a msg.
 */
import { toError } from "./errors";
import type { Node, NodeDone, NodeMessage, NodeMessageInFlow, NodeSend } from "./red";

export type InputHandler = (msg: NodeMessageInFlow, send: NodeSend) => void | Promise<void>;
export type CloseHandler = (removed: boolean) => void | Promise<void>;

/** Default bound on a node's own close work; core's MQTT node uses 2 s for the same reason. */
export const CLOSE_TIMEOUT_MS = 5_000;

export function onInput(node: Node, handler: InputHandler): void {
  node.on("input", function (msg: NodeMessageInFlow, send: NodeSend, done: NodeDone) {
    let result: void | Promise<void>;
    try {
      result = handler(msg, send);
    } catch (err) {
      done(toError(err));
      return;
    }
    if (result && typeof (result as Promise<void>).then === "function") {
      (result as Promise<void>).then(() => done(), (err: unknown) => done(toError(err)));
    } else {
      done();
    }
  });
}

/**
 * Registers a close handler that always calls done: after the handler settles, or after
 * `timeoutMs` if it hangs (a half-open socket, a library waiting on a dead peer).
 */
export function onClose(node: Node, handler: CloseHandler, timeoutMs = CLOSE_TIMEOUT_MS): void {
  node.on("close", function (removed: boolean, done: () => void) {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      done();
    };
    const timer = setTimeout(() => {
      node.warn(`close did not finish within ${timeoutMs} ms; continuing`);
      finish();
    }, timeoutMs);
    try {
      Promise.resolve(handler(removed)).then(finish, (err: unknown) => {
        node.warn(`close: ${toError(err).message}`);
        finish();
      });
    } catch (err) {
      node.warn(`close: ${toError(err).message}`);
      finish();
    }
  });
}

/**
 * Reports an error from outside an input handler so that Catch nodes see it: node.error only
 * routes to Catch when given a msg, so one is built from `context` when there is none.
 */
export function reportError(node: Node, err: unknown, msg?: NodeMessage | Record<string, unknown>): void {
  const e = toError(err);
  node.error(e, (msg ?? { payload: null, error: { message: e.message } }) as NodeMessage);
}

/** Reads a numeric config field that the editor delivered as a string. */
export function num(value: unknown, fallback: number, min = -Infinity, max = Infinity): number {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

/** Reads a boolean config field that may arrive as "true"/"false". */
export function bool(value: unknown, fallback: boolean): boolean {
  if (typeof value === "boolean") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  return fallback;
}
