/**
 * A Modbus RTU master over a byte stream (a serial port, or a TCP socket to a serial device
 * server), with framing of its own instead of modbus-serial's RTU client.
 *
 * Why not modbus-serial: its RTU buffered port keeps whatever bytes are in its buffer across
 * requests, all RTU transactions share one id, and a late reply whose unit, function and
 * length match the next request is handed to that request. RTU has no transaction id, so a
 * late reply can only be told from the right one by design, not by looking at it:
 *
 * 1. Strict matching. A reply is accepted only if it is for the outstanding request: its unit
 *    id and function code (or the exception form, code | 0x80), its byte count (2 x quantity
 *    for registers, ceil(quantity / 8) for bits) and its CRC. Everything else, and any byte
 *    that arrives while no request is outstanding, is discarded and counted (strayBytes).
 * 2. Flush and quiet time. Before each request the receive buffer is dropped, after the line
 *    has been silent for 3.5 character times (the spec's t3.5, Modbus over serial line V1.02
 *    section 2.5.1.1); after a failed request, for twice the slowest turnaround measured on
 *    this line as well, so that a straggler usually lands, and is dropped, before the next
 *    request goes out.
 * 3. Resynchronisation. Timing alone cannot rule out a straggler: a loaded gateway or slave can
 *    answer any time later. So a request that ends without its reply puts (unit, function) "in
 *    doubt", and no request with a function in doubt is sent to that unit until the unit has
 *    answered a request whose reply cannot be confused with the doubtful ones: a 1-item read
 *    with another function code (a probe; any answer, data or exception, will do). A Modbus
 *    slave serves one request at a time and answers in order, so once the probe's reply is in,
 *    every earlier reply from that unit has been sent and dropped by rule 1. A straggler can
 *    therefore never match the request it lands in, however late it is.
 *
 * Residual: when a unit leaves all four read functions in doubt (four unanswered requests of
 * four different functions in a row) no probe is left; the unit's doubt is then cleared after a
 * quiet time of max(timeout, 4 x slowest turnaround), counted as `resyncByQuiet`.
 */
import type { EventEmitter } from "events";
import type { Area } from "./modbus-device";

/** What the link needs from a serial port or a socket. */
export interface ByteStream extends EventEmitter {
  write(data: Buffer): unknown;
}

export interface RtuCounters {
  /** Bytes dropped: outside a transaction, before or around the accepted reply, bad CRC. */
  strayBytes: number;
  /** Probes sent to resynchronise a unit. */
  probes: number;
  /** Units whose doubt was cleared by quiet time alone (the residual case above). */
  resyncByQuiet: number;
}

const FUNCTION: Record<Area, number> = { coil: 1, discrete: 2, holding: 3, input: 4 };
const READ_FUNCTIONS = [3, 4, 1, 2];

interface Pending {
  unit: number;
  fc: number;
  count: number;
  sentAt: number;
  timer: NodeJS.Timeout;
  resolve(frame: Buffer): void;
  reject(err: Error): void;
}

export class RtuLink {
  private rx: Buffer = Buffer.alloc(0);
  private lastRxAt = 0;
  private pending: Pending | null = null;
  private lastFailed = false;
  private closed = false;
  /** Recent turnarounds (request written to reply complete), ms. */
  private readonly turnarounds: number[] = [];

  /**
   * @param doubt unit id -> function codes whose reply may still be on its way; owned by the
   *   device so that it survives a reopened port (the slave does not know we reopened).
   * @param counters owned by the device too, so they add up across reopened ports.
   */
  constructor(
    readonly stream: ByteStream,
    private readonly baudRate: number,
    private readonly doubt: Map<number, Set<number>>,
    private readonly counters: RtuCounters,
  ) {
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
  }

  /** 3.5 character times of 11 bits (start, 8 data, parity or 2nd stop, stop), at least 2 ms for timer granularity. */
  get t35Ms(): number {
    return Math.max(2, (3.5 * 11 * 1000) / this.baudRate);
  }

  get slowestTurnaroundMs(): number {
    return this.turnarounds.length ? Math.max(...this.turnarounds) : 0;
  }

  /**
   * Reads `count` items: each request (probe included) waits `timeoutMs` for its reply, and
   * nothing runs past `deadline`. Rejects with a TransactionTimedOutError, an error carrying
   * modbusCode, or ConnectionAborted.
   */
  async read(unit: number, area: Area, start: number, count: number, timeoutMs: number, deadline: number): Promise<number[] | boolean[]> {
    const fc = FUNCTION[area];
    if (this.doubt.get(unit)?.has(fc)) await this.resync(unit, start, timeoutMs, deadline);
    const frame = await this.transact(unit, fc, start, count, timeoutMs, deadline);
    return decode(frame, fc, count);
  }

  /** Ends the outstanding request (the port closed or the device is closing). */
  abort(reason: string): void {
    this.closed = true;
    const p = this.pending;
    if (!p) return;
    this.fail(p);
    p.reject(named("ConnectionAborted", reason));
  }

  private async resync(unit: number, start: number, timeoutMs: number, deadline: number): Promise<void> {
    const inDoubt = this.doubt.get(unit)!;
    const probeFc = READ_FUNCTIONS.find((f) => !inDoubt.has(f));
    if (probeFc === undefined) {
      const quietMs = Math.max(timeoutMs, 4 * this.slowestTurnaroundMs);
      await this.quiet(quietMs, deadline);
      if (Date.now() - this.lastRxAt < quietMs) throw timedOut(0, "the line was not quiet long enough after unanswered requests");
      this.doubt.delete(unit);
      this.counters.resyncByQuiet++;
      return;
    }
    this.counters.probes++;
    // Any complete reply to the probe, data or exception, proves the unit is done with the
    // doubtful requests; transact() clears the doubt when it accepts it.
    await this.transact(unit, probeFc, start, 1, timeoutMs, deadline).catch((err: Error & { modbusCode?: number }) => {
      if (typeof err.modbusCode !== "number") throw err;
    });
  }

  private async transact(unit: number, fc: number, start: number, count: number, timeoutMs: number, deadline: number): Promise<Buffer> {
    if (this.closed) throw named("ConnectionAborted", "port closed");
    await this.quiet(this.lastFailed ? Math.max(this.t35Ms, 2 * this.slowestTurnaroundMs) : this.t35Ms, deadline);
    const remaining = Math.min(timeoutMs, deadline - Date.now());
    if (remaining <= 0) throw timedOut(0, "the poll timeout ran out before the request could be sent");
    if (this.closed) throw named("ConnectionAborted", "port closed");
    this.counters.strayBytes += this.rx.length;
    this.rx = Buffer.alloc(0);
    const req = Buffer.alloc(8);
    req[0] = unit;
    req[1] = fc;
    req.writeUInt16BE(start, 2);
    req.writeUInt16BE(count, 4);
    req.writeUInt16LE(crc16(req.subarray(0, 6)), 6);
    return new Promise<Buffer>((resolve, reject) => {
      const p: Pending = {
        unit, fc, count, sentAt: Date.now(), resolve, reject,
        timer: setTimeout(() => {
          if (this.pending !== p) return;
          this.fail(p);
          reject(timedOut(remaining));
        }, remaining),
      };
      this.pending = p;
      this.stream.write(req);
    });
  }

  /** The request ended without its reply: whatever it provoked may still arrive. */
  private fail(p: Pending): void {
    clearTimeout(p.timer);
    this.pending = null;
    this.lastFailed = true;
    let set = this.doubt.get(p.unit);
    if (!set) this.doubt.set(p.unit, (set = new Set()));
    set.add(p.fc);
  }

  /** Waits until no byte has arrived for `ms` (never past the deadline). */
  private async quiet(ms: number, deadline: number): Promise<void> {
    for (;;) {
      const wait = Math.min(this.lastRxAt + ms - Date.now(), deadline - Date.now());
      if (wait <= 0) return;
      await new Promise((r) => setTimeout(r, Math.ceil(wait)));
    }
  }

  private onData(chunk: Buffer): void {
    this.lastRxAt = Date.now();
    const p = this.pending;
    if (!p) {
      this.counters.strayBytes += chunk.length;
      return;
    }
    this.rx = this.rx.length ? Buffer.concat([this.rx, chunk]) : chunk;
    for (let i = 0; i + 5 <= this.rx.length; i++) {
      const len = frameLength(this.rx, i, p);
      if (len === 0) continue; // not the start of a reply to this request
      if (len < 0) return; // a reply to it may be arriving: wait for more bytes
      const frame = this.rx.subarray(i, i + len);
      if (crc16(frame.subarray(0, len - 2)) !== frame.readUInt16LE(len - 2)) continue;
      this.counters.strayBytes += this.rx.length - len;
      this.rx = Buffer.alloc(0);
      this.accept(p, Buffer.from(frame));
      return;
    }
  }

  private accept(p: Pending, frame: Buffer): void {
    clearTimeout(p.timer);
    this.pending = null;
    this.lastFailed = false;
    // In-order slave: this reply came after every reply to the requests in doubt.
    this.doubt.delete(p.unit);
    this.turnarounds.push(Date.now() - p.sentAt);
    if (this.turnarounds.length > 16) this.turnarounds.shift();
    if (frame[1] & 0x80) p.reject(Object.assign(new Error(`Modbus exception ${frame[2]}`), { modbusCode: frame[2] }));
    else p.resolve(frame);
  }
}

/**
 * Length of the reply to `p` starting at `i`: 0 when the bytes there cannot start it (wrong
 * unit, function or byte count), -1 when they may but are not all in yet.
 */
function frameLength(b: Buffer, i: number, p: Pending): number {
  if (b[i] !== p.unit) return 0;
  if (b[i + 1] === (p.fc | 0x80)) return 5;
  if (b[i + 1] !== p.fc) return 0;
  const bytes = p.fc <= 2 ? Math.ceil(p.count / 8) : 2 * p.count;
  if (b[i + 2] !== bytes) return 0;
  const len = 5 + bytes;
  return i + len <= b.length ? len : -1;
}

function decode(frame: Buffer, fc: number, count: number): number[] | boolean[] {
  if (fc <= 2) return Array.from({ length: count }, (_, k) => ((frame[3 + (k >> 3)] >> (k & 7)) & 1) === 1);
  return Array.from({ length: count }, (_, k) => frame.readUInt16BE(3 + 2 * k));
}

/** CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF). */
export function crc16(b: Buffer): number {
  let crc = 0xffff;
  for (const byte of b) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

function named(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

function timedOut(ms: number, why?: string): Error {
  return named("TransactionTimedOutError", why ?? `no reply within ${ms} ms`);
}
