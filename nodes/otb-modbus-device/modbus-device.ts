/**
 * One Modbus device (or one RS-485 wire): a SharedConnection around a modbus-serial client and a
 * single bounded request queue that every reader shares. One request is on the wire at a time
 * unless `maxInFlight` says more (Modbus TCP only, see inFlightLimit()).
 *
 * The rules that keep a plant's data honest:
 * - every request has a timeout (modbus-serial has none by default) and a watchdog above it,
 *   and every read a deadline (the poll timeout): queueing, retries and reconnecting included,
 *   a read ends by then, so a device that accepts TCP but never answers costs a poll one
 *   poll timeout, not timeout x attempts;
 * - a reply that arrives after its request timed out is discarded, never given to the next
 *   request: on TCP modbus-serial matches replies by MBAP transaction id and drops those whose
 *   transaction already timed out; we count them (lateReplies) and also check that each reply
 *   carries exactly the items asked for. RTU has no transaction id: RTU and RTU over TCP go
 *   through RtuLink (rtu-link.ts), whose framing makes a late reply unattributable by design;
 * - busy (5, 6) and timeouts are retried `retries` times while half a request timeout is
 *   left before the deadline; other exceptions are data, returned;
 * - N consecutive timeouts mean the link is dead: it is reopened with backoff and jitter, and
 *   a read that finds the link down starts a reconnect attempt at once (at most one a second)
 *   instead of waiting out the backoff;
 * - a full queue refuses with a reason instead of growing (landscape.md, complaint 4);
 * - a unit whose last request timed out waits behind the units that answer: behind a TCP-to-RTU
 *   gateway one dead slave otherwise spends every poll's time budget first, and the live units'
 *   reads end at their deadline as comm_lost (test/modbus/probe-gateway.test.ts). Among such
 *   silent units, the one with the fewest timeouts in a row goes first, then the one tried least
 *   recently: a live unit that missed one answer must not queue behind a dead one for ever (seen
 *   in CI on 5 December: a live unit stuck behind the dead one for every poll of a run);
 * - a request sent with only a sliver of its poll's time left (it waited behind a silent unit)
 *   and unanswered is the poll's deadline, not the unit's silence: it marks no unit silent and
 *   does not count towards reopening the link.
 * read() never rejects: it resolves with the data or with the reason a Signal should carry.
 */
import { EventEmitter } from "events";
import * as net from "net";
import type ModbusRTU from "modbus-serial";
import type { SerialPort as SerialPortType } from "serialport";
import { SharedConnection, toError, type ConnectionState } from "../shared";
import type { DeviceOptions } from "./device-config";
import { RtuLink, type ByteStream, type Doubt } from "./rtu-link";

/**
 * serialport is loaded on first use, not at import: its native bindings are an optional
 * dependency (no prebuilt binary on some platforms), and a pack whose Modbus TCP, OPC UA and
 * MQTT nodes all fail to load because a serial library did not build would be worse than an
 * RTU device that says why it cannot open its port.
 */
let serialPortClass: typeof SerialPortType | null = null;
function loadSerialPort(): typeof SerialPortType {
  if (!serialPortClass) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      serialPortClass = (require("serialport") as { SerialPort: typeof SerialPortType }).SerialPort;
    } catch (err) {
      throw new Error(`Modbus RTU needs the serialport package, which did not load on ${process.platform}-${process.arch}: ${toError(err).message}`);
    }
  }
  return serialPortClass;
}

/** Overlapping requests lost (see ModbusDevice.noteOverlapLoss) before a device falls back to one at a time. */
export const OVERLAP_LOSSES_BEFORE_FALLBACK = 2;

/** A read that finds the link down may start a reconnect attempt, at most this often. */
export const POLL_RECONNECT_INTERVAL_MS = 1000;

export type Area = "coil" | "discrete" | "holding" | "input";

export interface ReadRequest {
  area: Area;
  start: number;
  count: number;
  /** Defaults to the device's unit id. */
  unitId?: number;
  /** Epoch ms by which the read ends, answered or not; default: now + the poll timeout. */
  deadline?: number;
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
  /** Reads that ended at their deadline (poll timeout). */
  deadlines: number;
  /** RTU only: bytes dropped because they were not the reply to the outstanding request. */
  strayBytes: number;
  /** RTU only: probes sent to resynchronise a unit after an unanswered request. */
  probes: number;
  /** RTU only: units resynchronised by quiet time alone (see rtu-link.ts, Residual). */
  resyncByQuiet: number;
  /** Requests sent beside another that went unanswered while the device answered others (see noteOverlapLoss). */
  overlapLosses: number;
}

interface Job {
  req: ReadRequest;
  deadline: number;
  resolve(outcome: ReadOutcome): void;
}

/** A unit whose last request timed out. */
interface SilentUnit {
  /** Timeouts in a row. */
  timeouts: number;
  /** When a job of this unit was last taken from the queue (ModbusDevice.sendCount). */
  triedAt: number;
}

type TcpClient = InstanceType<typeof ModbusRTU>;
/** Modbus TCP goes through modbus-serial; RTU and RTU over TCP through RtuLink. */
type Client = TcpClient | RtuLink;

export class ModbusDevice extends EventEmitter {
  readonly conn: SharedConnection<Client>;
  readonly counters: DeviceCounters = { requests: 0, responses: 0, timeouts: 0, exceptions: 0, retries: 0, lateReplies: 0, badReplies: 0, queueFull: 0, reconnects: 0, deadlines: 0, strayBytes: 0, probes: 0, resyncByQuiet: 0, overlapLosses: 0 };
  /** RTU: reply shapes per unit that may still arrive (rtu-link.ts); kept across reopened ports. */
  private readonly rtuDoubt: Doubt = new Map();
  private readonly queue: Job[] = [];
  /** Requests taken from the queue and not yet resolved (on the wire, retrying, or spacing). */
  private inFlight = 0;
  /** maxInFlight as allowed (see inFlightLimit), until a device shows it drops overlapping requests. */
  private limit: number;
  private consecutiveTimeouts = 0;
  /** Jobs taken from the queue so far: the order in which silent units were last tried. */
  private sendCount = 0;
  /** Units whose last request timed out: served after the others (see the header). */
  private readonly silentUnits = new Map<number, SilentUnit>();
  /** One abort per request on the wire: a lost link or close() ends them all at once. */
  private readonly aborts = new Set<(reason: string) => void>();
  private closed = false;
  private everConnected = false;

  constructor(readonly options: DeviceOptions) {
    super();
    this.limit = options.transport === "tcp" && options.interRequestDelayMs === 0 ? Math.max(1, options.maxInFlight) : 1;
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
        this.abortAll("connection lost");
      }
    });
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /**
   * Requests this device puts on the wire at once. Modbus TCP matches each reply to its request
   * by the MBAP transaction id (Modbus Messaging on TCP/IP Implementation Guide V1.0b, 3.1.3 and
   * 4.1), so a client may send the next request before the last is answered, and
   * modbus-serial keys its pending transactions by that id. Many devices and TCP-to-RTU gateways
   * serve one transaction at a time, so the default is 1; RTU has no transaction id (RtuLink
   * attributes a reply by order and timing alone) and request spacing means one after another,
   * so both keep 1 whatever maxInFlight says (the schema refuses the combination).
   */
  get inFlightLimit(): number {
    return this.limit;
  }

  /**
   * A request sent while another was outstanding went unanswered, though the device answered
   * others meanwhile: some devices and gateways drop (or queue past the timeout) a request that
   * overlaps one they are serving. Twice, and the device goes back to one request at a time
   * until it is redeployed, and says so once ("fallback" event, reported by the config node):
   * a setting the device cannot take must not cost data poll after poll.
   */
  private noteOverlapLoss(): void {
    this.counters.overlapLosses++;
    if (this.limit === 1 || this.counters.overlapLosses < OVERLAP_LOSSES_BEFORE_FALLBACK) return;
    const from = this.limit;
    this.limit = 1;
    this.emit("fallback", `requests sent while another was outstanding went unanswered ${this.counters.overlapLosses} times while the device answered others: Requests at once reduced from ${from} to 1 until redeployed (set maxInFlight to 1 for this device)`);
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
    const deadline = req.deadline ?? Date.now() + this.options.pollTimeoutMs;
    return new Promise((resolve) => {
      const job: Job = { req, deadline, resolve };
      this.queue.push(job);
      // A read still queued at its deadline (another reader's request is on the wire, or the
      // link is being reopened) ends then, so a poll never outlives its timeout.
      const t = setTimeout(() => {
        const i = this.queue.indexOf(job);
        if (i < 0) return;
        this.queue.splice(i, 1);
        this.counters.deadlines++;
        resolve(fail("comm_lost", `poll timeout: not sent within ${this.options.pollTimeoutMs} ms`));
      }, Math.max(0, deadline - Date.now()));
      job.resolve = (outcome) => {
        clearTimeout(t);
        resolve(outcome);
      };
      // A read for a silent unit starts the pump only after the reads queued in this turn (the
      // rest of the poll), so that it does not go first merely because it came first.
      if (this.silentUnits.has(this.unitOf(req))) queueMicrotask(() => this.pump());
      else this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.resolve(fail("comm_lost", "device closed"));
    this.abortAll("device closed");
    await this.conn.close();
  }

  /** Starts queued reads while fewer than inFlightLimit are out; each one ending starts the next. */
  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.inFlightLimit) {
      const job = this.queue.splice(this.nextJob(), 1)[0]!;
      const silent = this.silentUnits.get(this.unitOf(job.req));
      if (silent) silent.triedAt = ++this.sendCount;
      this.inFlight++;
      void this.serve(job);
    }
  }

  private async serve(job: Job): Promise<void> {
    let outcome: ReadOutcome;
    try {
      outcome = await this.execute(job.req, job.deadline);
    } catch (err) {
      outcome = fail("comm_lost", toError(err).message);
    }
    job.resolve(outcome);
    // The spacing holds this slot (the only one: spacing keeps the limit at 1) until it has passed.
    if (this.options.interRequestDelayMs > 0 && this.queue.length > 0) await sleep(this.options.interRequestDelayMs);
    this.inFlight--;
    this.pump();
  }

  private abortAll(reason: string): void {
    for (const abort of [...this.aborts]) abort(reason);
  }

  private unitOf(req: ReadRequest): number {
    return req.unitId ?? this.options.unitId;
  }

  /** The queued job to send next: any unit that answers first, in queue order; then the least silent. */
  private nextJob(): number {
    if (this.silentUnits.size === 0) return 0;
    let best = 0;
    let bestUnit: SilentUnit | undefined;
    for (let i = 0; i < this.queue.length; i++) {
      const s = this.silentUnits.get(this.unitOf(this.queue[i]!.req));
      if (!s) return i;
      if (!bestUnit || s.timeouts < bestUnit.timeouts || (s.timeouts === bestUnit.timeouts && s.triedAt < bestUnit.triedAt)) {
        best = i;
        bestUnit = s;
      }
    }
    return best;
  }

  private async execute(req: ReadRequest, deadline: number): Promise<ReadOutcome> {
    const outcome = await this.attempts(req, deadline);
    // An answer of any kind (data or an exception) brings a silent unit forward again.
    if (outcome.ok || outcome.exceptionCode !== undefined) this.silentUnits.delete(this.unitOf(req));
    return outcome;
  }

  private async attempts(req: ReadRequest, deadline: number): Promise<ReadOutcome> {
    for (let attempt = 0; ; attempt++) {
      const client = this.conn.client ?? (await this.reconnectForRead(deadline));
      if (!client) return fail("comm_lost", `not connected (${this.conn.state})`);
      const attemptMs = Math.min(this.options.timeoutMs, deadline - Date.now());
      if (attemptMs <= 0) {
        this.counters.deadlines++;
        return fail("comm_lost", `poll timeout: no answer within ${this.options.pollTimeoutMs} ms`);
      }
      // A retry goes out only while half a request timeout is left before the deadline: one sent
      // with a sliver left (a timer fires early against Date.now() when the loop's cached clock
      // is stale under load) would only time out, and its late reply would meet the next poll.
      const retry = (waitMs = 0): boolean => attempt < this.options.retries && deadline - Date.now() - waitMs >= this.options.timeoutMs / 2;
      this.counters.requests++;
      // Sent beside another request, and how many answers had come before it was sent.
      const overlapped = this.inFlight > 1;
      const answeredBefore = this.counters.responses + this.counters.exceptions;
      let data: number[] | boolean[];
      try {
        data = await this.call(client, req, attemptMs, deadline);
      } catch (err) {
        const e = err as Error & { modbusCode?: number; errno?: string };
        if (typeof e.modbusCode === "number") {
          this.consecutiveTimeouts = 0;
          this.counters.exceptions++;
          const backoffMs = Math.min(1000, 50 * 2 ** attempt);
          if ((e.modbusCode === 5 || e.modbusCode === 6) && retry(backoffMs)) {
            this.counters.retries++;
            await sleep(backoffMs);
            continue;
          }
          return fail(`modbus:exception_${e.modbusCode}`, e.message, e.modbusCode);
        }
        if (e.name === "TransactionTimedOutError" || e.errno === "ETIMEDOUT" || e.name === "WatchdogTimeout") {
          this.counters.timeouts++;
          // Sent with a sliver of the poll left: no sign that the unit is silent (see the header).
          if (attemptMs < Math.min(this.options.timeoutMs, this.options.pollTimeoutMs) / 2) {
            this.counters.deadlines++;
            return fail("comm_lost", `poll timeout: sent with ${attemptMs} ms of the poll left, no answer in time`);
          }
          if (overlapped && this.counters.responses + this.counters.exceptions > answeredBefore) this.noteOverlapLoss();
          this.consecutiveTimeouts++;
          const unit = this.silentUnits.get(this.unitOf(req));
          if (unit) unit.timeouts++;
          else this.silentUnits.set(this.unitOf(req), { timeouts: 1, triedAt: this.sendCount });
          if (this.consecutiveTimeouts >= this.options.timeoutsBeforeReconnect) {
            this.lostOnce(client, new Error(`${this.consecutiveTimeouts} requests in a row timed out`));
            return fail("comm_lost", `timed out after ${attemptMs} ms; reconnecting`);
          }
          if (retry()) {
            this.counters.retries++;
            continue;
          }
          return fail("comm_lost", `timed out after ${attemptMs} ms`);
        }
        if (e.name === "ConnectionAborted" || e.name === "PortNotOpenError" || this.conn.state !== "connected") {
          this.lostOnce(client, e);
          return fail("comm_lost", e.message || "port not open");
        }
        // CRC error, data length error, unexpected function code: a garbled frame, not data.
        // A stream that keeps garbling is as dead as a silent one: it counts towards reopening.
        this.counters.badReplies++;
        if (++this.consecutiveTimeouts >= this.options.timeoutsBeforeReconnect) {
          this.lostOnce(client, new Error(`${this.consecutiveTimeouts} requests in a row failed (${e.message})`));
          return fail("comm_lost", `bad reply: ${e.message}; reconnecting`);
        }
        if (retry()) {
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

  /**
   * Reports the link lost, once: with several requests on the wire, each of them fails when the
   * link dies, and only the first, whose client is still the connection's, may close and reopen it.
   */
  private lostOnce(client: Client, err: Error): void {
    if (this.conn.client === client) this.conn.lost(err);
  }

  /**
   * A read that finds the link down: start a reconnect attempt now rather than at the end of
   * the backoff (at most one a second, however fast the polls), and wait for it until the
   * read's deadline. Resumes data one poll after the device is back, not one backoff delay.
   */
  private async reconnectForRead(deadline: number): Promise<Client | null> {
    if (this.closed) return null;
    this.conn.retrySoon(POLL_RECONNECT_INTERVAL_MS);
    while (this.conn.state === "connecting" && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.max(0, deadline - Date.now()));
        const conn = this.conn;
        function done(): void {
          clearTimeout(t);
          conn.off("state", done);
          resolve();
        }
        conn.on("state", done);
      });
    }
    return this.conn.client;
  }

  /** One request, bounded by the attempt's timeout, a watchdog and the connection staying up. */
  private call(client: Client, req: ReadRequest, attemptMs: number, deadline: number): Promise<number[] | boolean[]> {
    const unit = req.unitId ?? this.options.unitId;
    let p: Promise<{ data: number[] | boolean[] }>;
    if (client instanceof RtuLink) {
      p = client.read(unit, req.area, req.start, req.count, attemptMs, deadline).then((data) => ({ data }));
    } else {
      client.setID(unit);
      client.setTimeout(attemptMs);
      p = req.area === "holding" ? client.readHoldingRegisters(req.start, req.count)
        : req.area === "input" ? client.readInputRegisters(req.start, req.count)
        : req.area === "coil" ? client.readCoils(req.start, req.count)
        : client.readDiscreteInputs(req.start, req.count);
    }
    return new Promise((resolve, reject) => {
      // `settled` is per call: a library callback that comes after an abort must not reach
      // whichever request is in flight by then.
      let settled = false;
      const watchdog = setTimeout(() => finish(named("WatchdogTimeout", "no answer and no library timeout")), Math.max(0, deadline - Date.now()) + 1000);
      const finish = (err: Error | null, data?: number[] | boolean[]): void => {
        if (settled) return;
        settled = true;
        this.aborts.delete(abort);
        clearTimeout(watchdog);
        if (err) reject(err);
        else resolve(data!);
      };
      const abort = (reason: string): void => {
        if (client instanceof RtuLink) client.abort(reason);
        finish(named("ConnectionAborted", reason));
      };
      this.aborts.add(abort);
      p.then((r) => finish(null, r.data), (err: unknown) => finish(libraryError(err)));
    });
  }

  private async open(): Promise<Client> {
    const o = this.options;
    if (o.transport !== "tcp") return this.openRtu();
    // modbus-serial is required on the first TCP connect, not when Node-RED registers the node (issue 19: memory per process).
    const client = new (require("modbus-serial") as typeof ModbusRTU)();
    // An 'error' event without a listener would throw and take Node-RED down.
    client.on("error", (err: unknown) => {
      if (this.conn.client === client) this.conn.lost(err);
    });
    try {
      await withTimeout(client.connectTCP(o.host, { port: o.port }), o.connectTimeoutMs, `connect to ${o.host}:${o.port} timed out`);
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

  /** A serial port, or a raw socket to a serial device server, framed by RtuLink. */
  private async openRtu(): Promise<RtuLink> {
    const o = this.options;
    const where = o.transport === "rtu" ? o.serialPath : `${o.host}:${o.port}`;
    let stream: ByteStream;
    let release: () => void = () => undefined;
    const opened = new Promise<void>((resolve, reject) => {
      if (o.transport === "rtu") {
        const SerialPort = loadSerialPort();
        const port = new SerialPort({ path: o.serialPath, baudRate: o.baudRate, parity: o.parity, dataBits: o.dataBits, stopBits: o.stopBits, autoOpen: false });
        stream = port;
        release = () => port.isOpen && port.close(() => undefined);
        port.open((err) => (err ? reject(err) : resolve()));
      } else {
        const sock = net.connect({ host: o.host, port: o.port });
        sock.setNoDelay(true);
        stream = sock;
        release = () => sock.destroy();
        sock.once("connect", () => resolve());
        sock.once("error", reject);
      }
    });
    // An 'error' event without a listener would throw and take Node-RED down.
    stream!.on("error", (err: unknown) => {
      if (this.conn.client === link) this.conn.lost(err);
    });
    const link = new RtuLink(stream!, o.baudRate, this.rtuDoubt, this.counters);
    try {
      await withTimeout(opened, o.connectTimeoutMs, `connect to ${where} timed out`);
    } catch (err) {
      link.abort("open failed");
      release();
      throw err;
    }
    stream!.on("close", () => {
      link.abort("port closed");
      if (this.conn.client === link) this.conn.lost(new Error(o.transport === "rtu" ? "serial port closed" : "connection closed by peer"));
    });
    return link;
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
  if (client instanceof RtuLink) return closeRtu(client);
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

/** Ends the outstanding request and releases the port or socket; never throws, never hangs past one second. */
function closeRtu(link: RtuLink): Promise<void> {
  link.abort("closing");
  const s = link.stream;
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 1000);
    const done = (): void => {
      clearTimeout(t);
      resolve();
    };
    try {
      // The port's own 'close' handler sees that the link is no longer the connection's client.
      if (serialPortClass && s instanceof serialPortClass) {
        if (s.isOpen) s.close(done);
        else done();
      } else {
        (s as net.Socket).destroy();
        done();
      }
    } catch {
      done();
    }
  });
}
