/**
 * Typed errors. Each carries a short `code` that status text and counters use, so that an OT
 * engineer sees "config: ..." or "comm: ..." rather than a stack trace.
 */
export class OtbError extends Error {
  constructor(readonly code: string, message: string, readonly detail?: unknown) {
    super(message);
    this.name = new.target.name;
  }
}

/** The node's configuration is unusable; the node stays red until it is redeployed. */
export class ConfigError extends OtbError {
  constructor(message: string, detail?: unknown) {
    super("config", message, detail);
  }
}

/** A device, server or broker could not be reached or dropped the connection. */
export class ConnectionError extends OtbError {
  constructor(message: string, detail?: unknown) {
    super("comm", message, detail);
  }
}

/** A message did not match the contract (schema, type, size). */
export class ValidationError extends OtbError {
  constructor(message: string, detail?: unknown) {
    super("invalid", message, detail);
  }
}

export function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === "string" ? err : JSON.stringify(err));
}
