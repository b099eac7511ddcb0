/**
 * A Modbus RTU slave written against the spec (FC 1-4) on one end of a serial line, for the RTU
 * tests. Unlike modbus-serial's ServerSerial, which starts a reply timer per request and so may
 * answer a later request before an earlier, held-back one, it serves one request at a time and
 * answers in order, as a slave on one wire does (Modbus over serial line V1.02, 2.4: the master
 * talks to one slave at a time and a slave processes one request at a time). Requests that come
 * in while it is busy wait in order. Each reply can be held back (`delayFor`) or withheld (-1).
 */
import { SerialPort } from "serialport";
import { crc16 } from "../../nodes/otb-modbus-device/rtu-link";
import type { ModbusPeer } from "./modbus-peer";

type Area = "coil" | "discrete" | "holding" | "input";
const AREAS: Area[] = ["coil", "discrete", "holding", "input"];

export interface RtuSlave {
  /** Request frames seen with a good CRC, in order. */
  frames: number;
  close(): Promise<void>;
}

export async function startRtuSlave(path: string, baudRate: number, unitId: number, image: ModbusPeer): Promise<RtuSlave> {
  const port = new SerialPort({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  port.on("error", () => undefined);
  const slave: RtuSlave = { frames: 0, close: () => new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r())) };
  let rx = Buffer.alloc(0);
  const queue: Buffer[] = [];
  let busy = false;
  port.on("data", (chunk: Buffer) => {
    rx = Buffer.concat([rx, chunk]);
    // Every request of FC 1-4 is 8 bytes; a CRC that does not check means we are out of step.
    while (rx.length >= 8) {
      const frame = rx.subarray(0, 8);
      if (crc16(frame.subarray(0, 6)) !== frame.readUInt16LE(6)) {
        rx = rx.subarray(1);
        continue;
      }
      rx = rx.subarray(8);
      slave.frames++;
      if (frame[0] === unitId) queue.push(Buffer.from(frame));
    }
    void serve();
  });

  async function serve(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      while (queue.length > 0 && port.isOpen) {
        const req = queue.shift()!;
        const fc = req[1];
        const start = req.readUInt16BE(2);
        const count = req.readUInt16BE(4);
        const area = AREAS[fc - 1];
        let pdu: Buffer;
        if (!area) pdu = Buffer.from([fc | 0x80, 1]);
        else {
          image.requests[area]++;
          let code: number | undefined;
          for (let a = start; a < start + count && code === undefined; a++) code = image.exceptions.get(`${area}:${a}`);
          if (code !== undefined) pdu = Buffer.from([fc | 0x80, code]);
          else if (fc <= 2) {
            const bits = fc === 1 ? image.coils : image.discrete;
            const bytes = Buffer.alloc(Math.ceil(count / 8));
            for (let i = 0; i < count; i++) if (bits[start + i]) bytes[i >> 3] |= 1 << (i & 7);
            pdu = Buffer.concat([Buffer.from([fc, bytes.length]), bytes]);
          } else {
            const regs = fc === 3 ? image.holding : image.input;
            pdu = Buffer.alloc(2 + count * 2);
            pdu[0] = fc;
            pdu[1] = count * 2;
            for (let i = 0; i < count; i++) pdu.writeUInt16BE(regs[start + i], 2 + i * 2);
          }
        }
        const ms = area ? image.delayFor(area, start, count) : 0;
        if (ms < 0) continue; // withheld: the slave moves on to the next request
        if (ms > 0) await new Promise((r) => setTimeout(r, ms));
        const body = Buffer.concat([Buffer.from([unitId]), pdu]);
        const crc = Buffer.alloc(2);
        crc.writeUInt16LE(crc16(body));
        if (port.isOpen) port.write(Buffer.concat([body, crc]));
      }
    } finally {
      busy = false;
    }
  }
  return slave;
}
