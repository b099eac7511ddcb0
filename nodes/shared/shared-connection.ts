/**
 * A connection shared by every flow node that uses one config node: the core MQTT broker's
 * `users` pattern, typed. The config node owns one client; users register and deregister; the
 * connection opens with the first user, closes when the last removed user leaves, fans its
 * state out to every user's status, and reconnects with capped exponential backoff and jitter.
 *
 * The property is literally named `users` on the config node because Node-RED routes a global
 * config node's status() and error() to its users' Status and Catch nodes only then.
 */
import { EventEmitter } from "events";
import { toError } from "./errors";
import type { Node } from "./red";

export type ConnectionState = "idle" | "connecting" | "connected" | "disconnected" | "closing" | "closed";

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0..1: fraction of each delay that is randomised, so a plant's nodes do not reconnect in step. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 };

export interface ConnectionUser {
  /** Called on every state change; default: a status on the user node. */
  onState?(state: ConnectionState, detail?: string): void;
}

export interface ConnectionAdapter<C> {
  /** Opens the client; rejects when the peer cannot be reached. */
  open(): Promise<C>;
  /** Closes it; must not throw for an already broken client. */
  close(client: C): Promise<void>;
}

export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(o.maxMs, o.initialMs * Math.pow(o.factor, Math.max(0, attempt)));
  const spread = base * o.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}

export class SharedConnection<C> extends EventEmitter {
  readonly users: Record<string, Node> = {};
  private readonly hooks = new Map<string, ConnectionUser>();
  private _state: ConnectionState = "idle";
  private _client: C | null = null;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private opening: Promise<void> | null = null;
  private lastError = "";
  private lastAttemptAt = -Infinity;

  constructor(
    private readonly adapter: ConnectionAdapter<C>,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {
    super();
  }

  get state(): ConnectionState {
    return this._state;
  }

  get client(): C | null {
    return this._state === "connected" ? this._client : null;
  }

  get userCount(): number {
    return Object.keys(this.users).length;
  }

  /** Adds a user; the first one opens the connection. */
  register(node: Node, hooks: ConnectionUser = {}): void {
    this.users[node.id] = node;
    this.hooks.set(node.id, hooks);
    if (this._state === "idle" || this._state === "closed") this.connect();
    else this.notify(node.id);
  }

  /**
   * Removes a user. The connection closes when no users remain and the user was removed (not
   * just restarted by a deploy), or when `force` is set; the same contract as core MQTT.
   */
  async deregister(node: Node, removed: boolean): Promise<void> {
    delete this.users[node.id];
    this.hooks.delete(node.id);
    if (this.userCount === 0 && removed && this._state !== "closing" && this._state !== "closed") {
      await this.close();
    }
  }

  /** The adapter calls this when an open client drops; a reconnect is scheduled. */
  lost(err: unknown): void {
    if (this._state === "closing" || this._state === "closed") return;
    const client = this._client;
    this._client = null;
    this.lastError = toError(err).message;
    this.setState("disconnected", this.lastError);
    if (client) this.adapter.close(client).catch(() => undefined);
    this.scheduleRetry();
  }

  /** Closes the client for good (config node close); pending retries are cancelled. */
  async close(): Promise<void> {
    if (this._state === "closed") return;
    this.cancelRetry();
    this.setState("closing");
    const client = this._client;
    this._client = null;
    if (this.opening) await this.opening.catch(() => undefined);
    const late = this._client as C | null; // opened while we waited
    this._client = null;
    for (const c of [client, late]) if (c) await this.adapter.close(c).catch(() => undefined);
    this.setState("closed");
  }

  /** Opens now (also used to retry at once, e.g. from an editor button). */
  connect(): void {
    if (this.opening || this._state === "connected" || this._state === "closing") return;
    this.cancelRetry();
    this.lastAttemptAt = Date.now();
    this.setState("connecting", this.attempt > 0 ? `retry ${this.attempt}` : undefined);
    this.opening = this.adapter.open().then(
      (client) => {
        this.opening = null;
        if (this._state === "closing" || this._state === "closed") {
          this._client = client; // close() picks it up
          return;
        }
        this._client = client;
        this.attempt = 0;
        this.setState("connected");
      },
      (err: unknown) => {
        this.opening = null;
        if (this._state === "closing" || this._state === "closed") return;
        this.lastError = toError(err).message;
        this.setState("disconnected", this.lastError);
        this.scheduleRetry();
      },
    );
  }

  /**
   * Attempts a reconnect now instead of at the end of the backoff delay, when the link is down
   * and the last attempt started at least `minIntervalMs` ago: a user with work to do (a due
   * poll) does not wait out a long backoff, and a fast poller still cannot hammer the peer.
   * Returns whether an attempt was started.
   */
  retrySoon(minIntervalMs: number): boolean {
    if (this._state !== "disconnected" || this.opening || this.userCount === 0) return false;
    if (Date.now() - this.lastAttemptAt < minIntervalMs) return false;
    this.connect();
    return true;
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.userCount === 0) return;
    const delay = backoffDelay(this.attempt++, this.backoff);
    this.emit("retry", delay, this.attempt);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  private cancelRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private setState(state: ConnectionState, detail?: string): void {
    this._state = state;
    this.emit("state", state, detail);
    for (const id of Object.keys(this.users)) this.notify(id, detail);
  }

  private notify(id: string, detail?: string): void {
    const node = this.users[id];
    if (!node) return; // deregistered while the statuses were going out
    const hooks = this.hooks.get(id);
    const state = this._state;
    try {
      if (hooks?.onState) hooks.onState(state, detail ?? (state === "disconnected" ? this.lastError : undefined));
      else node.status(defaultStatus(state, detail));
    } catch (err) {
      node.warn(`status update failed: ${toError(err).message}`);
    }
  }
}

function defaultStatus(state: ConnectionState, detail?: string): { fill?: "red" | "yellow" | "grey"; shape?: "ring" | "dot"; text?: string } {
  switch (state) {
    case "connecting":
      return { fill: "yellow", shape: "ring", text: detail ? `connecting (${detail})` : "connecting" };
    case "connected":
      // Connected is not "data flows": users turn green themselves when values arrive.
      return { fill: "yellow", shape: "ring", text: "connected, waiting for data" };
    case "disconnected":
      return { fill: "red", shape: "ring", text: `disconnected${detail ? `: ${detail}` : ""}`.slice(0, 60) };
    case "closing":
    case "closed":
    case "idle":
      return { fill: "grey", shape: "ring", text: state };
  }
}
