/**
 * One Modbus device (or one RS-485 wire): a SharedConnection around a modbus-serial client and a
 * single bounded request queue that every reader shares, with one request on the wire at a time.
 *
 * The rules that keep a plant's data honest:
 * - every request has a timeout (modbus-serial has none by default) and a watchdog above it;
 * - a reply that arrives after its request timed out is discarded, never given to the next
 *   request: on TCP modbus-serial matches replies by MBAP transaction id and drops those whose
 *   transaction already timed out; we count them (lateReplies) and also check that each reply
 *   carries exactly the items asked for. RTU has no transaction id, so after a timeout the
 *   line stays silent for another timeout period so a straggler lands before the next request
 *   (a reply later than twice the timeout cannot be told apart on RTU; see drainMs);
 * - busy (5, 6) and timeouts are retried `retries` times; other exceptions are data, returned;
 * - N consecutive timeouts mean the link is dead: it is reopened with backoff and jitter;
 * - a full queue refuses with a reason instead of growing (landscape.md, complaint 4).
 * read() never rejects: it resolves with the data or with the reason a Signal should carry.
 */
import { EventEmitter } from "events";
import ModbusRTU from "modbus-serial";
import { SharedConnection, toError, type ConnectionState } from "../shared";
import type { DeviceOptions } from "./device-config";

export type Area = "coil" | "discrete" | "holding" | "input";

export interface ReadRequest {
  area: Area;
  start: number;
  count: number;
  /** Defaults to the device's unit id. */
  unitId?: number;
}

export type ReadOutcome =
  | { ok: true; data: number[] | boolean[]; ts: number }
  | { ok: false; reason: string; message: string; exceptionCode?: number; ts: number };

export interface DeviceCounters {
  requests: number;
  responses: number;
  timeouts: number;
  exceptions: number;
  retries: number;
  lateReplies: number;
  badReplies: number;
  queueFull: number;
  reconnects: number;
}

interface Job {
  req: ReadRequest;
  resolve(outcome: ReadOutcome): void;
}

type Client = InstanceType<typeof ModbusRTU>;

export class ModbusDevice extends EventEmitter {
  readonly conn: SharedConnection<Client>;
  readonly counters: DeviceCounters = { requests: 0, responses: 0, timeouts: 0, exceptions: 0, retries: 0, lateReplies: 0, badReplies: 0, queueFull: 0, reconnects: 0 };
  private readonly queue: Job[] = [];
  private pumping = false;
  private consecutiveTimeouts = 0;
  private abortInFlight: ((reason: string) => void) | null = null;
  private closed = false;
  private everConnected = false;

  constructor(readonly options: DeviceOptions) {
    super();
    this.conn = new SharedConnection<Client>(
      { open: () => this.open(), close: (c) => closeClient(c) },
      { initialMs: options.reconnectInitialMs, maxMs: options.reconnectMaxMs, factor: 2, jitter: 0.2 },
    );
    this.conn.on("state", (state: ConnectionState) => {
      if (state === "connected") {
        if (this.everConnected) this.counters.reconnects++;
        this.everConnected = true;
        this.consecutiveTimeouts = 0;
      } else {
        this.abortInFlight?.("connection lost");
      }
    });
  }

  get queueLength(): number {
    return this.queue.length;
  }

  get connected(): boolean {
    return this.conn.state === "connected";
  }

  /** Queues one read; resolves when it is answered, fails, or is refused. Never rejects. */
  read(req: ReadRequest): Promise<ReadOutcome> {
    if (this.closed) return Promise.resolve(fail("comm_lost", "device closed"));
    if (this.queue.length >= this.options.maxQueue) {
      this.counters.queueFull++;
      return Promise.resolve(fail("queue_full", `request queue full (${this.options.maxQueue})`));
    }
    return new Promise((resolve) => {
      this.queue.push({ req, resolve });
      void this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.resolve(fail("comm_lost", "device closed"));
    this.abortInFlight?.("device closed");
    await this.conn.close();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const job = this.queue.shift()!;
        let outcome: ReadOutcome;
        try {
          outcome = await this.execute(job.req);
        } catch (err) {
          outcome = fail("comm_lost", toError(err).message);
        }
        job.resolve(outcome);
        if (this.options.interRequestDelayMs > 0 && this.queue.length > 0) await sleep(this.options.interRequestDelayMs);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async execute(req: ReadRequest): Promise<ReadOutcome> {
    for (let attempt = 0; ; attempt++) {
      const client = this.conn.client;
      if (!client) return fail("comm_lost", `not connected (${this.conn.state})`);
      this.counters.requests++;
      let data: number[] | boolean[];
      try {
        data = await this.call(client, req);
      } catch (err) {
        const e = err as Error & { modbusCode?: number; errno?: string };
        if (typeof e.modbusCode === "number") {
          this.consecutiveTimeouts = 0;
          this.counters.exceptions++;
          if ((e.modbusCode === 5 || e.modbusCode === 6) && attempt < this.options.retries) {
            this.counters.retries++;
            await sleep(Math.min(1000, 50 * 2 ** attempt));
            continue;
          }
          return fail(`modbus:exception_${e.modbusCode}`, e.message, e.modbusCode);
        }
        if (e.name === "TransactionTimedOutError" || e.errno === "ETIMEDOUT" || e.name === "WatchdogTimeout") {
          this.counters.timeouts++;
          this.consecutiveTimeouts++;
          if (this.options.transport !== "tcp") await sleep(this.drainMs());
          if (this.consecutiveTimeouts >= this.options.timeoutsBeforeReconnect) {
            this.conn.lost(new Error(`${this.consecutiveTimeouts} requests in a row timed out`));
            return fail("comm_lost", `timed out after ${this.options.timeoutMs} ms; reconnecting`);
          }
          if (attempt < this.options.retries) {
            this.counters.retries++;
            continue;
          }
          return fail("comm_lost", `timed out after ${this.options.timeoutMs} ms`);
        }
        if (e.name === "ConnectionAborted" || e.name === "PortNotOpenError" || this.conn.state !== "connected") {
          if (this.conn.state === "connected") this.conn.lost(e);
          return fail("comm_lost", e.message || "port not open");
        }
        // CRC error, data length error, unexpected function code: a garbled frame, not data.
        // A stream that keeps garbling is as dead as a silent one: it counts towards reopening.
        this.counters.badReplies++;
        if (++this.consecutiveTimeouts >= this.options.timeoutsBeforeReconnect) {
          this.conn.lost(new Error(`${this.consecutiveTimeouts} requests in a row failed (${e.message})`));
          return fail("comm_lost", `bad reply: ${e.message}; reconnecting`);
        }
        if (attempt < this.options.retries) {
          this.counters.retries++;
          continue;
        }
        return fail("comm_lost", `bad reply: ${e.message}`);
      }
      const expected = req.area === "coil" || req.area === "discrete" ? data.length >= req.count : data.length === req.count;
      if (!expected) {
        this.counters.badReplies++;
        return fail("comm_lost", `reply carries ${data.length} items for ${req.count} requested`);
      }
      this.consecutiveTimeouts = 0;
      this.counters.responses++;
      return { ok: true, data: (req.area === "coil" || req.area === "discrete" ? (data as boolean[]).slice(0, req.count) : data), ts: Date.now() };
    }
  }

  /** One library call, bounded by a watchdog and by the connection staying up. */
  private call(client: Client, req: ReadRequest): Promise<number[] | boolean[]> {
    client.setID(req.unitId ?? this.options.unitId);
    const p: Promise<{ data: number[] | boolean[] }> =
      req.area === "holding" ? client.readHoldingRegisters(req.start, req.count)
      : req.area === "input" ? client.readInputRegisters(req.start, req.count)
      : req.area === "coil" ? client.readCoils(req.start, req.count)
      : client.readDiscreteInputs(req.start, req.count);
    return new Promise((resolve, reject) => {
      // `settled` is per call: a library callback that comes after an abort must not reach
      // whichever request is in flight by then.
      let settled = false;
      const watchdog = setTimeout(() => finish(named("WatchdogTimeout", "no answer and no library timeout")), this.options.timeoutMs + 1000);
      const finish = (err: Error | null, data?: number[] | boolean[]): void => {
        if (settled) return;
        settled = true;
        if (this.abortInFlight === abort) this.abortInFlight = null;
        clearTimeout(watchdog);
        if (err) reject(err);
        else resolve(data!);
      };
      const abort = (reason: string): void => finish(named("ConnectionAborted", reason));
      this.abortInFlight = abort;
      p.then((r) => finish(null, r.data), (err: unknown) => finish(libraryError(err)));
    });
  }

  /**
   * Quiet time after an RTU timeout. RTU has no transaction id: a late frame that lands while
   * the next request waits is indistinguishable from its answer when unit, function and length
   * match. So the line stays silent for another full timeout (and at least the time a 256-byte
   * frame takes), and the straggler lands with no request pending, where it is discarded.
   */
  private drainMs(): number {
    const charMs = 11_000 / this.options.baudRate;
    return Math.max(this.options.interRequestDelayMs, this.options.timeoutMs, Math.ceil(256 * charMs), 20);
  }

  private async open(): Promise<Client> {
    const o = this.options;
    const client = new ModbusRTU();
    // An 'error' event without a listener would throw and take Node-RED down.
    client.on("error", (err: unknown) => {
      if (this.conn.client === client) this.conn.lost(err);
    });
    const connecting =
      o.transport === "tcp" ? client.connectTCP(o.host, { port: o.port })
      : o.transport === "rtu-tcp" ? client.connectTelnet(o.host, { port: o.port })
      : client.connectRTUBuffered(o.serialPath, { baudRate: o.baudRate, parity: o.parity, dataBits: o.dataBits, stopBits: o.stopBits });
    try {
      await withTimeout(connecting, o.connectTimeoutMs, `connect to ${o.transport === "rtu" ? o.serialPath : `${o.host}:${o.port}`} timed out`);
    } catch (err) {
      await closeClient(client);
      throw err;
    }
    client.setTimeout(o.timeoutMs);
    client.on("close", () => {
      if (this.conn.client === client) this.conn.lost(new Error("connection closed by peer"));
    });
    this.countLateReplies(client);
    return client;
  }

  /**
   * modbus-serial drops replies whose transaction is unknown or already timed out, silently.
   * We listen on the same port events to count them; the library's private fields are read
   * defensively, so a library change only loses the count, never the protection.
   */
  private countLateReplies(client: Client): void {
    const c = client as unknown as { _port?: EventEmitter & { _transactionIdRead?: number }; _transactions?: Record<number, { _timeoutFired?: boolean; next?: unknown }> };
    const port = c._port;
    if (!port || this.options.transport !== "tcp") return;
    port.prependListener("data", () => {
      const t = c._transactions?.[port._transactionIdRead ?? -1];
      if (!t || t._timeoutFired === true) this.counters.lateReplies++;
    });
  }
}

function fail(reason: string, message: string, exceptionCode?: number): ReadOutcome {
  return exceptionCode === undefined ? { ok: false, reason, message, ts: Date.now() } : { ok: false, reason, message, exceptionCode, ts: Date.now() };
}

/**
 * modbus-serial rejects with plain objects (TransactionTimedOutError, PortNotOpenError are not
 * Error subclasses); keep their name, errno and modbusCode, which the retry logic reads.
 */
function libraryError(err: unknown): Error {
  if (err instanceof Error) return err;
  const o = (typeof err === "object" && err !== null ? err : {}) as { name?: string; message?: string; errno?: string; modbusCode?: number };
  const e = Object.assign(new Error(o.message ?? String(err)), { errno: o.errno, modbusCode: o.modbusCode });
  if (o.name) e.name = o.name;
  return e;
}

function named(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(t);
        reject(libraryError(err));
      },
    );
  });
}

/** Closes whatever state the client is in; never throws, never hangs past one second. */
function closeClient(client: Client): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 1000);
    const done = (): void => {
      clearTimeout(t);
      resolve();
    };
    try {
      (client as unknown as EventEmitter).removeAllListeners("close");
      const port = (client as unknown as { _port?: { destroy?: (cb?: () => void) => void; close?: unknown } })._port;
      if (!port) return done();
      // Sockets are destroyed (an unresponsive peer would hold a graceful end open); serial
      // ports are closed, which releases the device file.
      if (typeof port.destroy === "function") {
        client.destroy(() => undefined);
        done();
      } else if (client.isOpen) client.close(done);
      else done();
    } catch {
      done();
    }
  });
}
