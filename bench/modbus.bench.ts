/**
 * Modbus: (1) requests per poll cycle of the simulator's full register map, coalesced, against
 * one request per tag (what the incumbent's one-read-node-per-value flows issue); (2) polls per
 * second of that map through the pack's device queue, poller and decoder, against raw
 * modbus-serial issuing the same requests back to back without decoding, against the
 * simulator's Modbus server and against a spec-level server with no per-request delay.
 */
import ModbusRTU from "modbus-serial";
import { startSimulator } from "../cli/sim";
import { parseDeviceConfig } from "../nodes/otb-modbus-device/device-config";
import { ModbusDevice } from "../nodes/otb-modbus-device/modbus-device";
import { planBlocks, planPerTag, PROTOCOL_LIMITS, type Block } from "../nodes/otb-modbus-in/coalesce";
import { loadMapFile } from "../nodes/otb-modbus-in/map-source";
import { GroupPoller, groupTags } from "../nodes/otb-modbus-in/poller";
import type { TagDef } from "../nodes/otb-modbus-in/register-map";
import { startRawModbusServer } from "../test/modbus/modbus-peer";
import { nowMs, type Benchmark, type Figure } from "./harness";

const MAP_FILE = "flows/catalog/simulator-modbus-map.json";

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
    return figures;
  },
};

export = bench;
