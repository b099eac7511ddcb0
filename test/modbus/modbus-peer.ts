/**
 * A real Modbus peer for tests: modbus-serial's ServerTCP (or ServerSerial on a pty) over a
 * register image the test writes to, with scriptable faults: exceptions per address, replies
 * held back by a delay function, or silence.
 */
import { ServerTCP } from "modbus-serial";
import { delay, freePort, waitFor, canConnect } from "../helpers/peers";

type Area = "coil" | "discrete" | "holding" | "input";
type Cb<T> = (err: unknown, value?: T) => void;

export interface ModbusPeer {
  port: number;
  holding: Uint16Array;
  input: Uint16Array;
  coils: Uint8Array;
  discrete: Uint8Array;
  /** `${area}:${address}` -> exception code returned for any read that covers the address. */
  exceptions: Map<string, number>;
  /** Milliseconds to hold a reply back (0 = at once); return -1 to never answer. */
  delayFor: (area: Area, address: number, count: number) => number;
  /** Read requests seen, per area. */
  requests: Record<Area, number>;
  /** Raw server only: TCP connections accepted so far. */
  connections?: number;
  /** Raw server only: requests received and not yet answered, now and at most so far (dropped ones not counted). */
  outstanding?: number;
  maxOutstanding?: number;
  /** Raw server only: replies sent before a request that arrived earlier was answered. */
  overtakes?: number;
  /** Raw server only: connections open now. */
  open?: () => number;
  /** Raw server only: rewrite (or drop, with null) each reply frame before it is sent. */
  mutate?: (frame: Buffer) => Buffer | null;
  close(): Promise<void>;
  /** Stops listening and drops every connection; `start()` again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A register image shared by a TCP and a serial server (for RTU tests). */
export function makeVector(peer: Omit<ModbusPeer, "port" | "close" | "stop" | "start">): object {
  const answer = <T>(area: Area, addr: number, count: number, cb: Cb<T>, value: () => T): void => {
    peer.requests[area]++;
    for (let a = addr; a < addr + count; a++) {
      const code = peer.exceptions.get(`${area}:${a}`);
      if (code !== undefined) {
        const ms = peer.delayFor(area, addr, count);
        if (ms < 0) return;
        setTimeout(() => cb({ modbusErrorCode: code, msg: `scripted exception ${code}` }), ms);
        return;
      }
    }
    const ms = peer.delayFor(area, addr, count);
    if (ms < 0) return;
    if (ms === 0) cb(null, value());
    else setTimeout(() => cb(null, value()), ms);
  };
  return {
    getMultipleHoldingRegisters: (addr: number, len: number, _u: number, cb: Cb<number[]>) =>
      answer("holding", addr, len, cb, () => Array.from(peer.holding.subarray(addr, addr + len))),
    getMultipleInputRegisters: (addr: number, len: number, _u: number, cb: Cb<number[]>) =>
      answer("input", addr, len, cb, () => Array.from(peer.input.subarray(addr, addr + len))),
    // Single-register reads (length 1) go through these in modbus-serial's server.
    getHoldingRegister: (addr: number, _u: number, cb: Cb<number>) => answer("holding", addr, 1, cb, () => peer.holding[addr]),
    getInputRegister: (addr: number, _u: number, cb: Cb<number>) => answer("input", addr, 1, cb, () => peer.input[addr]),
    // Bits are asked one by one by the server; count each read once, at its first bit.
    getCoil: (addr: number, _u: number, cb: Cb<boolean>) => bitAnswer("coil", addr, cb, () => peer.coils[addr] === 1),
    getDiscreteInput: (addr: number, _u: number, cb: Cb<boolean>) => bitAnswer("discrete", addr, cb, () => peer.discrete[addr] === 1),
  };
  function bitAnswer(area: Area, addr: number, cb: Cb<boolean>, value: () => boolean): void {
    const code = peer.exceptions.get(`${area}:${addr}`);
    if (code !== undefined) return cb({ modbusErrorCode: code });
    cb(null, value());
  }
}

export async function startModbusPeer(): Promise<ModbusPeer> {
  const port = await freePort();
  const peer = {
    port,
    holding: new Uint16Array(65536),
    input: new Uint16Array(65536),
    coils: new Uint8Array(65536),
    discrete: new Uint8Array(65536),
    exceptions: new Map<string, number>(),
    delayFor: () => 0,
    requests: { coil: 0, discrete: 0, holding: 0, input: 0 },
  } as unknown as ModbusPeer;
  const vector = makeVector(peer);
  let server: ServerTCP | null = null;
  peer.start = async () => {
    server = new ServerTCP(vector as never, { host: "127.0.0.1", port, unitID: 255 });
    server.on("socketError", () => undefined);
    server.on("serverError", () => undefined);
    await waitFor(() => canConnect(port), 5000, `modbus server on ${port}`);
  };
  peer.stop = () =>
    new Promise<void>((resolve) => {
      if (!server) return resolve();
      const s = server;
      server = null;
      s.close(() => resolve());
    });
  peer.close = peer.stop;
  await peer.start();
  await delay(5);
  return peer;
}

/**
 * A minimal Modbus TCP server written against the spec with `net` (FC 1-4), for the tests
 * that need fast, exactly scripted replies: ServerTCP defers every request by a setTimeout,
 * which costs ~2 ms a request. `staleTid` sends a held-back reply under an old transaction id.
 */
export async function startRawModbusServer(opts: { staleTid?: (tid: number) => boolean } = {}): Promise<ModbusPeer> {
  const net = await import("net");
  const peer = {
    holding: new Uint16Array(65536),
    input: new Uint16Array(65536),
    coils: new Uint8Array(65536),
    discrete: new Uint8Array(65536),
    exceptions: new Map<string, number>(),
    delayFor: () => 0,
    requests: { coil: 0, discrete: 0, holding: 0, input: 0 },
    connections: 0,
    outstanding: 0,
    maxOutstanding: 0,
    overtakes: 0,
  } as unknown as ModbusPeer;
  const sockets = new Set<import("net").Socket>();
  peer.open = () => sockets.size;
  /** Requests waiting for their reply, in arrival order (for `overtakes`). */
  const waiting: object[] = [];
  const areas: Area[] = ["coil", "discrete", "holding", "input"];
  const handle = (sock: import("net").Socket, frame: Buffer): void => {
    const tid = frame.readUInt16BE(0);
    const unit = frame[6];
    const fc = frame[7];
    const start = frame.readUInt16BE(8);
    const count = frame.readUInt16BE(10);
    const area = areas[fc - 1];
    let pdu: Buffer;
    if (!area) pdu = Buffer.from([fc | 0x80, 1]);
    else {
      peer.requests[area]++;
      let code: number | undefined;
      for (let a = start; a < start + count && code === undefined; a++) code = peer.exceptions.get(`${area}:${a}`);
      if (code !== undefined) pdu = Buffer.from([fc | 0x80, code]);
      else if (fc <= 2) {
        const bits = fc === 1 ? peer.coils : peer.discrete;
        const bytes = Buffer.alloc(Math.ceil(count / 8));
        for (let i = 0; i < count; i++) if (bits[start + i]) bytes[i >> 3] |= 1 << (i & 7);
        pdu = Buffer.concat([Buffer.from([fc, bytes.length]), bytes]);
      } else {
        const regs = fc === 3 ? peer.holding : peer.input;
        pdu = Buffer.alloc(2 + count * 2);
        pdu[0] = fc;
        pdu[1] = count * 2;
        for (let i = 0; i < count; i++) pdu.writeUInt16BE(regs[start + i], 2 + i * 2);
      }
    }
    const ms = area ? peer.delayFor(area, start, count) : 0;
    if (ms < 0) return; // never answered: dropped, not outstanding
    const ticket = {};
    waiting.push(ticket);
    peer.outstanding!++;
    peer.maxOutstanding = Math.max(peer.maxOutstanding!, peer.outstanding!);
    const send = (): void => {
      const i = waiting.indexOf(ticket);
      if (i >= 0) {
        if (i > 0) peer.overtakes!++;
        waiting.splice(i, 1);
        peer.outstanding!--;
      }
      const stale = ms > 0 && opts.staleTid?.(tid);
      const mbap = Buffer.alloc(7);
      mbap.writeUInt16BE(stale ? (tid + 65535) & 0xffff : tid, 0);
      mbap.writeUInt16BE(pdu.length + 1, 4);
      mbap[6] = unit;
      const frame = peer.mutate ? peer.mutate(Buffer.concat([mbap, pdu])) : Buffer.concat([mbap, pdu]);
      if (frame && !sock.destroyed) sock.write(frame);
    };
    if (ms === 0) send();
    else setTimeout(send, ms);
  };
  let server: import("net").Server | null = null;
  let port = 0;
  peer.start = () =>
    new Promise<void>((resolve, reject) => {
      server = net.createServer((sock) => {
        peer.connections!++;
        sockets.add(sock);
        sock.setNoDelay(true);
        let buf = Buffer.alloc(0);
        sock.on("data", (d) => {
          buf = Buffer.concat([buf, d]);
          while (buf.length >= 7 && buf.length >= 6 + buf.readUInt16BE(4)) {
            const len = 6 + buf.readUInt16BE(4);
            handle(sock, buf.subarray(0, len));
            buf = buf.subarray(len);
          }
        });
        sock.on("error", () => undefined);
        sock.on("close", () => {
          sockets.delete(sock);
          // Requests never answered on a closed connection are no longer outstanding.
          peer.outstanding = 0;
          waiting.length = 0;
        });
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        port = (server!.address() as import("net").AddressInfo).port;
        peer.port = port;
        resolve();
      });
    });
  peer.stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (!server) return resolve();
      const s = server;
      server = null;
      s.close(() => resolve());
    });
  peer.close = peer.stop;
  await peer.start();
  return peer;
}
