/**
 * Modbus: (1) requests per poll cycle of the simulator's full register map, coalesced, against
 * one request per tag (what the incumbent's one-read-node-per-value flows issue); (2) polls per
 * second of that map through the pack's device queue, poller and decoder, against raw
 * modbus-serial issuing the same requests back to back without decoding, against the
 * simulator's Modbus server and against a spec-level server with no per-request delay;
 * (3) RTU polls per second over a socat virtual serial pair through the pack's own RTU framing
 * (rtu-link.ts), against modbus-serial's RTU buffered client issuing the same requests.
 */
import ModbusRTU from "modbus-serial";
import { startSimulator } from "../cli/sim";
import { parseDeviceConfig } from "../nodes/otb-modbus-device/device-config";
import { ModbusDevice } from "../nodes/otb-modbus-device/modbus-device";
import { planBlocks, planPerTag, PROTOCOL_LIMITS, type Block } from "../nodes/otb-modbus-in/coalesce";
import { loadMapFile } from "../nodes/otb-modbus-in/map-source";
import { GroupPoller, groupTags } from "../nodes/otb-modbus-in/poller";
import type { TagDef } from "../nodes/otb-modbus-in/register-map";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseRegisterMap } from "../nodes/otb-modbus-in/register-map";
import { startRawModbusServer, type ModbusPeer } from "../test/modbus/modbus-peer";
import { startRtuSlave } from "../test/modbus/rtu-slave";
import { nowMs, type Benchmark, type Figure } from "./harness";

const MAP_FILE = "flows/catalog/simulator-modbus-map.json";
const RTU_BAUD = 115200;

/** RTU polls/s of a 24-tag map (3 requests) over a socat pty pair: the pack, then raw modbus-serial. */
async function rtuPollsPerSecond(durationMs: number): Promise<{ pack: number; raw: number } | null> {
  const socat = ["/usr/bin/socat", "/bin/socat", "/usr/local/bin/socat"].find((p) => fs.existsSync(p));
  if (!socat) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otb-rtu-bench-"));
  const a = path.join(dir, "server");
  const b = path.join(dir, "client");
  const proc = spawn(socat, [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: "ignore" });
  for (const t0 = Date.now(); !(fs.existsSync(a) && fs.existsSync(b)) && Date.now() - t0 < 5000; ) await new Promise((r) => setTimeout(r, 20));
  const image = {
    holding: new Uint16Array(65536), input: new Uint16Array(65536), coils: new Uint8Array(65536), discrete: new Uint8Array(65536),
    exceptions: new Map<string, number>(), delayFor: () => 0, requests: { coil: 0, discrete: 0, holding: 0, input: 0 },
  } as unknown as ModbusPeer;
  const slave = await startRtuSlave(a, RTU_BAUD, 1, image);
  const rows = [
    ...Array.from({ length: 10 }, (_, i) => ({ tag: `h${i}`, address: i })),
    ...Array.from({ length: 10 }, (_, i) => ({ tag: `g${i}`, address: 100 + i })),
    ...Array.from({ length: 4 }, (_, i) => ({ tag: `i${i}`, area: "input", address: i })),
  ];
  const tags = parseRegisterMap(rows).tags;
  try {
    const device = new ModbusDevice(parseDeviceConfig({ transport: "rtu", serialPath: b, baudRate: RTU_BAUD, unitId: 1, timeoutMs: 1000, retries: 0 } as never));
    device.conn.register({ id: "bench", status: () => undefined, warn: () => undefined } as never, { onState: () => undefined });
    for (const t0 = Date.now(); !device.connected && Date.now() - t0 < 5000; ) await new Promise((r) => setTimeout(r, 10));
    const poller = new GroupPoller("all", tags, PROTOCOL_LIMITS, device, "bench");
    const pack = await rate(durationMs, async () => void (await poller.poll()));
    await device.close();
    const client = new ModbusRTU();
    await client.connectRTUBuffered(b, { baudRate: RTU_BAUD });
    client.setTimeout(1000);
    client.setID(1);
    const blocks = planBlocks(tags, PROTOCOL_LIMITS);
    const raw = await rate(durationMs, async () => {
      for (const blk of blocks) await (blk.area === "input" ? client.readInputRegisters(blk.start, blk.count) : client.readHoldingRegisters(blk.start, blk.count));
    });
    await new Promise<void>((r) => client.close(() => r()));
    return { pack, raw };
  } finally {
    await slave.close();
    proc.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Calls per second of `once`, after a warm-up of half the duration. */
async function rate(durationMs: number, once: () => Promise<void>): Promise<number> {
  for (const w = nowMs(); nowMs() - w < durationMs / 2; ) await once();
  let n = 0;
  const start = nowMs();
  while (nowMs() - start < durationMs) {
    await once();
    n++;
  }
  return (n / (nowMs() - start)) * 1000;
}

async function packPollsPerSecond(port: number, tags: TagDef[], durationMs: number): Promise<number> {
  const device = new ModbusDevice(parseDeviceConfig({ transport: "tcp", host: "127.0.0.1", port, unitId: 1, timeoutMs: 1000, retries: 0 } as never));
  device.conn.register({ id: "bench", status: () => undefined, warn: () => undefined } as never, { onState: () => undefined });
  const t0 = Date.now();
  while (!device.connected && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
  const poller = new GroupPoller("all", tags, PROTOCOL_LIMITS, device, "bench");
  // Warm-up by time, not count: the JIT needs ~1 s of traffic before rates settle.
  for (const w = nowMs(); nowMs() - w < durationMs / 2; ) await poller.poll();
  let polls = 0;
  const start = nowMs();
  while (nowMs() - start < durationMs) {
    await poller.poll();
    polls++;
  }
  const elapsed = nowMs() - start;
  await device.close();
  return (polls / elapsed) * 1000;
}

async function rawPollsPerSecond(port: number, blocks: Block[], durationMs: number): Promise<number> {
  const client = new ModbusRTU();
  await client.connectTCP("127.0.0.1", { port });
  client.setTimeout(1000);
  const once = async (): Promise<void> => {
    for (const b of blocks) {
      client.setID(b.unitId ?? 1);
      if (b.area === "holding") await client.readHoldingRegisters(b.start, b.count);
      else if (b.area === "input") await client.readInputRegisters(b.start, b.count);
      else if (b.area === "coil") await client.readCoils(b.start, b.count);
      else await client.readDiscreteInputs(b.start, b.count);
    }
  };
  for (const w = nowMs(); nowMs() - w < durationMs / 2; ) await once();
  let polls = 0;
  const start = nowMs();
  while (nowMs() - start < durationMs) {
    await once();
    polls++;
  }
  const elapsed = nowMs() - start;
  await new Promise<void>((r) => client.close(() => r()));
  return (polls / elapsed) * 1000;
}

const bench: Benchmark = {
  name: "modbus",
  description: "simulator register map: coalesced request count vs one per tag; polls/s vs raw modbus-serial",
  runs: 3,
  async run(opts) {
    const map = loadMapFile(MAP_FILE);
    const figures: Figure[] = [];
    let coalesced = 0;
    for (const tags of groupTags(map.tags).values()) coalesced += planBlocks(tags, PROTOCOL_LIMITS).length;
    const minimum = planBlocks(map.tags, { ...PROTOCOL_LIMITS, maxGap: 124, maxBitGap: 2000 }).length;
    figures.push({
      name: `requests per cycle, ${map.tags.length} tags, fast+slow groups`,
      unit: "requests",
      pack: coalesced,
      raw: planPerTag(map.tags).length,
      higherIsBetter: false,
      note: `minimum possible for the whole map in one group: ${minimum} (one per unit id and area)`,
    });

    // Polls of the whole map as one group, sequential, for a fixed time each.
    const durationMs = opts.quick ? 500 : 2000;
    const blocks = planBlocks(map.tags, PROTOCOL_LIMITS);
    const sim = await startSimulator({ seed: 1, speed: 1, protocols: { opcua: false, mqtt: false, modbus: true }, modbusPort: 0 } as never);
    try {
      const port = (sim as unknown as { modbusPort: number }).modbusPort;
      const raw = await rawPollsPerSecond(port, blocks, durationMs);
      const pack = await packPollsPerSecond(port, map.tags, durationMs);
      figures.push({ name: `polls/s of the full map (${blocks.length} requests/poll), simulator server`, unit: "polls/s", pack, raw, higherIsBetter: true, note: "raw: modbus-serial, same requests, no decoding" });
    } finally {
      await sim.stop();
    }
    const fast = await startRawModbusServer();
    try {
      const raw = await rawPollsPerSecond(fast.port, blocks, durationMs);
      const pack = await packPollsPerSecond(fast.port, map.tags, durationMs);
      figures.push({ name: "polls/s of the full map, spec-level server (no server delay)", unit: "polls/s", pack, raw, higherIsBetter: true, note: "raw: modbus-serial, same requests, no decoding" });
    } finally {
      await fast.close();
    }
    const rtu = await rtuPollsPerSecond(durationMs);
    if (rtu) figures.push({ name: "RTU polls/s, 24 tags in 3 requests, socat pty pair at 115200 baud", unit: "polls/s", pack: rtu.pack, raw: rtu.raw, higherIsBetter: true, note: "pack: own RTU framing (rtu-link.ts); raw: modbus-serial RTU buffered client, same requests" });
    return figures;
  },
};

export = bench;
