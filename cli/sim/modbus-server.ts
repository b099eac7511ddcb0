/**
 * The energy meter (unit 1) and legacy machine (unit 2) behind one Modbus TCP server
 * (modbus-serial ServerTCP, like a serial gateway) on 127.0.0.1. Registers hold the latest
 * sample encoded per MODBUS_MAP. While a fault is active the unit answers with an exception
 * code, leaves a share of the requests unanswered (timeout) or stops answering altogether.
 * An unknown unit id gets exception 11 (gateway target failed to respond), as a gateway does.
 */
import { ServerTCP } from "modbus-serial";
import type { IServiceVector } from "modbus-serial/ServerTCP";
import type { ModbusFaultState } from "./faults";
import type { Sample } from "./line";
import { MODBUS_MAP, encodeRegisters, registerCount, type Area, type DeviceMap } from "./modbus-map";
import type { Rng } from "./rng";
import { at } from "../checked";

type Image = Record<Area, Map<number, number>>;

interface Unit {
  device: DeviceMap;
  image: Image;
}

export interface ModbusServerOptions {
  port: number;
  faultState: (device: string) => ModbusFaultState;
  /** Decides which requests a timeout fault swallows (seeded, so runs repeat). */
  rng: Rng;
}

/** Counters a test or the CLI can show. */
export interface ModbusStats {
  requests: number;
  exceptions: number;
  unanswered: number;
}

const GATEWAY_TARGET_FAILED = 11;
const ILLEGAL_ADDRESS = 2;

export class SimModbusServer {
  private server: ServerTCP | null = null;
  private readonly units = new Map<number, Unit>();
  readonly stats: ModbusStats = { requests: 0, exceptions: 0, unanswered: 0 };
  port = 0;

  constructor(private readonly opts: ModbusServerOptions) {
    for (const device of MODBUS_MAP.devices) {
      this.units.set(device.unitId, { device, image: { coil: new Map(), discrete: new Map(), holding: new Map(), input: new Map() } });
    }
  }

  async start(): Promise<void> {
    const vector: IServiceVector = {
      getCoil: (addr: number, unitID: number, cb: (err: Error | null, v: boolean) => void) => this.read(unitID, "coil", addr, 1, (err, v) => cb(err, v ? v[0] !== 0 : false)),
      getDiscreteInput: (addr: number, unitID: number, cb: (err: Error | null, v: boolean) => void) =>
        this.read(unitID, "discrete", addr, 1, (err, v) => cb(err, v ? v[0] !== 0 : false)),
      getHoldingRegister: (addr: number, unitID: number, cb: (err: Error | null, v: number) => void) => this.read(unitID, "holding", addr, 1, (err, v) => cb(err, v?.[0] ?? 0)),
      getInputRegister: (addr: number, unitID: number, cb: (err: Error | null, v: number) => void) => this.read(unitID, "input", addr, 1, (err, v) => cb(err, v?.[0] ?? 0)),
      getMultipleHoldingRegisters: (addr: number, length: number, unitID: number, cb: (err: Error | null, v: number[]) => void) =>
        this.read(unitID, "holding", addr, length, (err, v) => cb(err, v ?? [])),
      getMultipleInputRegisters: (addr: number, length: number, unitID: number, cb: (err: Error | null, v: number[]) => void) =>
        this.read(unitID, "input", addr, length, (err, v) => cb(err, v ?? [])),
    };
    // modbus-serial treats port 0 as "use 502" (`options.port || 502`); the string "0" reaches
    // net.Server.listen intact, which then picks an ephemeral port that we read back.
    const server = new ServerTCP(vector, { host: "127.0.0.1", port: (this.port || (this.opts.port === 0 ? "0" : this.opts.port)) as number, unitID: 255 });
    await new Promise<void>((resolve, reject) => {
      server.once("initialized", () => resolve());
      server.once("serverError", (err: Error) => reject(err));
    });
    // Socket resets from clients must never become unhandled "error" events.
    server.on("socketError", () => undefined);
    server.on("error", () => undefined);
    const inner = (server as unknown as { _server: import("net").Server })._server;
    this.port = (inner.address() as import("net").AddressInfo).port;
    this.server = server;
  }

  private read(unitId: number, area: Area, addr: number, length: number, cb: (err: Error | null, values?: number[]) => void): void {
    this.stats.requests++;
    const unit = this.units.get(unitId);
    const fail = (code: number): void => {
      this.stats.exceptions++;
      cb(Object.assign(new Error(`exception ${code}`), { modbusErrorCode: code }));
    };
    if (!unit) return fail(GATEWAY_TARGET_FAILED);
    const fault = this.opts.faultState(unit.device.name);
    if (fault.offline || (fault.dropRate !== undefined && this.opts.rng.next() < fault.dropRate)) {
      this.stats.unanswered++;
      return; // never answered: the client's timeout is the only way out, as with a dead device
    }
    if (fault.exception !== undefined) return fail(fault.exception);
    if (addr + length > unit.device.addressLimit) return fail(ILLEGAL_ADDRESS);
    const image = unit.image[area];
    const out: number[] = [];
    for (let i = 0; i < length; i++) out.push(image.get(addr + i) ?? 0);
    cb(null, out);
  }

  /** Encodes the sample into the register images. */
  publish(sample: Sample): void {
    for (const { device, image } of this.units.values()) {
      for (const def of device.registers) {
        const value = def.role === "clock" ? sample.ts : sample.values[def.tag];
        if (value === undefined) continue;
        const words = def.type === "bool" ? [value ? 1 : 0] : encodeRegisters(def, value);
        const target = image[def.area];
        for (let i = 0; i < registerCount(def); i++) target.set(def.address + i, at(words, i));
      }
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
