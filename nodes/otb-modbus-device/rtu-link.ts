/**
 * A Modbus RTU master over a byte stream (a serial port, or a TCP socket to a serial device
 * server), with framing of its own instead of modbus-serial's RTU client.
 *
 * Why not modbus-serial: its RTU buffered port keeps whatever bytes are in its buffer across
 * requests, all RTU transactions share one id, and a late reply whose unit, function and
 * length match the next request is handed to that request. RTU has no transaction id, so a
 * late reply can only be kept from the wrong request by design, not by looking at it:
 *
 * 1. Strict matching. A reply is accepted only if it is for the outstanding request: its unit
 *    id and function code (or the exception form, code | 0x80), its byte count (2 x quantity
 *    for registers, ceil(quantity / 8) for bits) and its CRC. Other bytes, and any byte that
 *    arrives while no request is outstanding, are discarded and counted (strayBytes).
 * 2. Flush and quiet time. Before each request the receive buffer is dropped, after the line
 *    has been silent for 3.5 character times (t3.5, Modbus over serial line V1.02, 2.5.1.1);
 *    after a failed request for twice the slowest turnaround measured on this line as well, so
 *    that a straggler usually lands, and is dropped, before the next request goes out.
 * 3. Doubt, by reply shape. Timing alone cannot rule out a straggler: a loaded gateway or slave
 *    can answer any time later. A request that ends without its reply leaves its reply shape
 *    (function, byte count) "in doubt" for its unit. A request is only sent when its own data
 *    shape is not in doubt, so a straggler can never pass for its data reply; an exception
 *    reply (which has no byte count) is only believed when no request of that function is in
 *    doubt. A straggler with a doubtful shape seen while waiting removes one doubt of that
 *    shape (each request gets at most one reply).
 * 4. Resynchronisation. When the next request's shape is in doubt, the unit is first sent a
 *    probe: a short read whose reply cannot be confused with the doubtful ones (another
 *    function code, or the same with another byte count). A Modbus slave serves one request at
 *    a time and answers in order, so a believed reply to any later request, the probe
 *    included, proves that every earlier reply from that unit has gone by or never will come:
 *    the unit's doubt is cleared then.
 *
 * Residual: a unit that leaves every probe shape in doubt (22 shapes: more unanswered requests
 * in a row than a poll timeout allows in practice) has its doubt cleared only after the line
 * has been silent for max(10 x timeout, 10 s); counted as `resyncByQuiet`.
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
  /** Late replies recognised by their doubtful shape and dropped. */
  lateReplies: number;
  /** Probes sent to resynchronise a unit. */
  probes: number;
  /** Units whose doubt was cleared by quiet time alone (the residual case above). */
  resyncByQuiet: number;
}

/** Unit id -> reply shape `${fc}:${bytes}` -> how many unanswered requests had it. */
export type Doubt = Map<number, Map<string, number>>;

const FUNCTION: Record<Area, number> = { coil: 1, discrete: 2, holding: 3, input: 4 };
const READ_FUNCTIONS = [3, 4, 1, 2];
/** Probe quantities tried per function when every function is in doubt. */
const PROBE_COUNTS = [1, 2, 3, 4, 5, 6, 7, 8, 9];
/** Bytes kept while waiting for a reply: two maximum RTU frames (256 bytes each). */
const MAX_RX = 512;

interface Pending {
  unit: number;
  fc: number;
  count: number;
  /** Data bytes of the reply: 2 x count for registers, ceil(count / 8) for bits. */
  bytes: number;
  sentAt: number;
  timer: NodeJS.Timeout;
  resolve(frame: Buffer): void;
  reject(err: Error): void;
}

export class RtuLink {
  private rx: Buffer = Buffer.alloc(0);
  /** performance.now() of the last byte received: t3.5 is 1.75 ms, finer than Date.now(). */
  private lastRxAt = -Infinity;
  private pending: Pending | null = null;
  private lastFailed = false;
  private closed = false;
  /** Recent turnarounds (request written to reply complete), ms. */
  private readonly turnarounds: number[] = [];

  /**
   * @param doubt owned by the device so that it survives a reopened port (the slave does not
   *   know we reopened).
   * @param counters owned by the device too, so they add up across reopened ports.
   */
  constructor(
    readonly stream: ByteStream,
    private readonly baudRate: number,
    private readonly doubt: Doubt,
    private readonly counters: RtuCounters,
  ) {
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
  }

  /**
   * t3.5: 3.5 character times of 11 bits (start, 8 data, parity or 2nd stop, stop); above
   * 19200 baud the spec fixes it at 1.75 ms (Modbus over serial line V1.02, 2.5.1.1).
   */
  get t35Ms(): number {
    return this.baudRate > 19200 ? 1.75 : (3.5 * 11 * 1000) / this.baudRate;
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
    if (this.inDoubt(unit, fc, replyBytes(fc, count))) await this.resync(unit, start, timeoutMs, deadline);
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

  private inDoubt(unit: number, fc: number, bytes: number): boolean {
    return (this.doubt.get(unit)?.get(`${fc}:${bytes}`) ?? 0) > 0;
  }

  private functionInDoubt(unit: number, fc: number): boolean {
    for (const key of this.doubt.get(unit)?.keys() ?? []) if (key.startsWith(`${fc}:`)) return true;
    return false;
  }

  private async resync(unit: number, start: number, timeoutMs: number, deadline: number): Promise<void> {
    // Best: a function with nothing in doubt (any reply, data or exception, is believed);
    // else the same function with a byte count nothing in doubt has (only data is believed).
    const fc = READ_FUNCTIONS.find((f) => !this.functionInDoubt(unit, f));
    let probe: { fc: number; count: number } | undefined = fc === undefined ? undefined : { fc, count: 1 };
    for (const f of READ_FUNCTIONS) for (const n of PROBE_COUNTS) if (!probe && !this.inDoubt(unit, f, replyBytes(f, n))) probe = { fc: f, count: n };
    if (!probe) {
      const quietMs = Math.max(10 * timeoutMs, 10_000);
      if (performance.now() - this.lastRxAt < quietMs) throw timedOut(0, `unit ${unit} is out of step: waiting for ${quietMs} ms of silence`);
      this.doubt.delete(unit);
      this.counters.resyncByQuiet++;
      return;
    }
    this.counters.probes++;
    // transact() clears the unit's doubt when it believes the probe's reply.
    await this.transact(unit, probe.fc, start, probe.count, timeoutMs, deadline).catch((err: Error & { modbusCode?: number }) => {
      if (typeof err.modbusCode !== "number") throw err;
    });
  }

  private async transact(unit: number, fc: number, start: number, count: number, timeoutMs: number, deadline: number): Promise<Buffer> {
    if (this.closed) throw named("ConnectionAborted", "port closed");
    await this.quiet(this.lastFailed ? Math.max(this.t35Ms, 2 * this.slowestTurnaroundMs) : this.t35Ms, deadline);
    const remaining = Math.min(timeoutMs, deadline - Date.now());
    if (remaining <= 0) throw timedOut(0, "the poll timeout ran out before the request could be sent");
    if (this.closed) throw named("ConnectionAborted", "port closed");
    const earlier = this.pending;
    if (earlier) {
      // Only if a caller gave up on a request before its own timer did: it stays in doubt.
      this.fail(earlier);
      earlier.reject(timedOut(0, "superseded by a later request"));
    }
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
        unit, fc, count, bytes: replyBytes(fc, count), sentAt: performance.now(), resolve, reject,
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

  /** The request ended without its reply: a reply of its shape may still arrive. */
  private fail(p: Pending): void {
    clearTimeout(p.timer);
    this.pending = null;
    this.lastFailed = true;
    let shapes = this.doubt.get(p.unit);
    if (!shapes) this.doubt.set(p.unit, (shapes = new Map()));
    const key = `${p.fc}:${p.bytes}`;
    shapes.set(key, (shapes.get(key) ?? 0) + 1);
  }

  /** Waits until no byte has arrived for `ms` (never past the deadline). */
  private async quiet(ms: number, deadline: number): Promise<void> {
    for (;;) {
      const wait = Math.min(this.lastRxAt + ms - performance.now(), deadline - Date.now());
      if (wait <= 0) return;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private onData(chunk: Buffer): void {
    this.lastRxAt = performance.now();
    const p = this.pending;
    if (!p) {
      this.counters.strayBytes += chunk.length;
      return;
    }
    this.rx = this.rx.length ? Buffer.concat([this.rx, chunk]) : chunk;
    if (this.rx.length > MAX_RX) {
      // A reply is at most 256 bytes: older bytes of a longer run cannot belong to it.
      this.counters.strayBytes += this.rx.length - MAX_RX;
      this.rx = this.rx.subarray(this.rx.length - MAX_RX);
    }
    // Rescan from the start on every chunk (at most MAX_RX bytes): a frame may begin anywhere.
    for (let i = 0; i + 5 <= this.rx.length; ) {
      const found = this.frameAt(i, p);
      if (found === null) {
        i++;
        continue;
      }
      const frame = this.rx.subarray(i, i + found.len);
      if (found.mine) {
        this.counters.strayBytes += this.rx.length - found.len;
        this.rx = Buffer.alloc(0);
        this.accept(p, Buffer.from(frame));
        return;
      }
      // A late reply of a doubtful shape: drop it, and for data (whose shape is exact) forget
      // one doubt of that shape. The bytes before it stay for the next scan.
      if (found.shape) this.forget(p.unit, found.shape);
      this.counters.lateReplies++;
      this.rx = Buffer.concat([this.rx.subarray(0, i), this.rx.subarray(i + found.len)]);
    }
  }

  /**
   * A complete, CRC-checked frame from the pending request's unit at `i`: `mine` when it is
   * believed as the reply to `p`, else a late reply of a doubtful shape (`shape` for data).
   */
  private frameAt(i: number, p: Pending): { len: number; mine: boolean; shape?: string } | null {
    const b = this.rx;
    if (b[i] !== p.unit) return null;
    const f = b[i + 1];
    if (f === undefined) return null; // the function code is not in yet
    if (f & 0x80) {
      const fc = f & 0x7f;
      if (!checks(b, i, 5)) return null;
      if (fc === p.fc && !this.functionInDoubt(p.unit, fc)) return { len: 5, mine: true };
      return this.functionInDoubt(p.unit, fc) ? { len: 5, mine: false } : null;
    }
    const bytes = b[i + 2];
    if (bytes === undefined) return null; // the byte count is not in yet
    const shape = `${f}:${bytes}`;
    const isMine = f === p.fc && bytes === p.bytes;
    if (!isMine && !this.inDoubt(p.unit, f, bytes)) return null;
    if (!checks(b, i, 5 + bytes)) return null;
    // A request is never sent while its own shape is in doubt, so its shape is believed.
    return isMine ? { len: 5 + bytes, mine: true } : { len: 5 + bytes, mine: false, shape };
  }

  private forget(unit: number, shape: string): void {
    const shapes = this.doubt.get(unit);
    const n = shapes?.get(shape) ?? 0;
    if (n > 1) shapes!.set(shape, n - 1);
    else shapes?.delete(shape);
    if (shapes && shapes.size === 0) this.doubt.delete(unit);
  }

  private accept(p: Pending, frame: Buffer): void {
    clearTimeout(p.timer);
    this.pending = null;
    this.lastFailed = false;
    // In-order slave: this reply came after every reply to the requests in doubt.
    this.doubt.delete(p.unit);
    this.turnarounds.push(performance.now() - p.sentAt);
    if (this.turnarounds.length > 16) this.turnarounds.shift();
    // A checked frame is 5 bytes or more (frameAt), so readUInt8 (which throws out of bounds) finds both.
    if (frame.readUInt8(1) & 0x80) p.reject(Object.assign(new Error(`Modbus exception ${frame.readUInt8(2)}`), { modbusCode: frame.readUInt8(2) }));
    else p.resolve(frame);
  }
}

function replyBytes(fc: number, count: number): number {
  return fc <= 2 ? Math.ceil(count / 8) : 2 * count;
}

/** Whether `len` bytes from `i` are all in and end in a good CRC. */
function checks(b: Buffer, i: number, len: number): boolean {
  return i + len <= b.length && crc16(b.subarray(i, i + len - 2)) === b.readUInt16LE(i + len - 2);
}

function decode(frame: Buffer, fc: number, count: number): number[] | boolean[] {
  if (fc <= 2) return Array.from({ length: count }, (_, k) => ((frame.readUInt8(3 + (k >> 3)) >> (k & 7)) & 1) === 1);
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
