/**
 * otb-modbus-in: polls a typed register map through an otb-modbus-device and emits one Signal[]
 * batch per poll group per period (msg.topic = the group). The logic lives in register-map.ts,
 * coalesce.ts, decode.ts and poller.ts; this file is the Node-RED glue: timers, status, Catch.
 */
import { ConfigError, onClose, onInput, reportError, StatusReporter, type ConnectionState, type Signal } from "../shared";
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeSend } from "../shared/red";
import { getConfigNode } from "../shared/red";
import { describeDevice, type OtbModbusDeviceNode } from "../otb-modbus-device/device-config";
import { PROTOCOL_LIMITS } from "./coalesce";
import { stampWithDeviceClock, withClockInEveryGroup } from "./device-clock";
import { resolveMap, type MapSourceDef } from "./map-source";
import { GroupPoller, groupTags } from "./poller";
import type { TagDef } from "./register-map";

interface OtbModbusInDef extends NodeDef, MapSourceDef {
  device: string;
}

/** The shortest period a timer may run at; faster polling only builds skipped-poll counts. */
const MIN_PERIOD_MS = 10;

export = function (RED: NodeAPI): void {
  function OtbModbusIn(this: Node, def: OtbModbusInDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusReporter(node, { idleAfterMs: 10_000 });
    const timers: NodeJS.Timeout[] = [];
    const pollers = new Map<string, GroupPoller>();
    const config = getConfigNode<OtbModbusDeviceNode>(RED, def.device);
    let closed = false;
    let mapTags: TagDef[] = [];

    const refuse = (message: string): void => {
      status.error(`config: ${message}`.slice(0, 60));
      // Deferred: during deploy the flow's Catch nodes may not be constructed yet.
      setImmediate(() => reportError(node, new ConfigError(message), { payload: null, topic: def.name || def.id }));
    };

    function start(): void {
      if (!config) return refuse("no Modbus device selected");
      if (config.configError || !config.device) return refuse(`device: ${config.configError ?? "not available"}`);
      const device = config.device;
      let map;
      try {
        map = resolveMap(def, RED.settings.userDir as string | undefined, { byteOrder: device.options.byteOrder, wordOrder: device.options.wordOrder });
      } catch (err) {
        return refuse((err as Error).message);
      }
      map = { ...map, tags: (mapTags = withClockInEveryGroup(map.tags)) };
      const limits = { ...PROTOCOL_LIMITS, maxRegisters: device.options.maxRegisters, maxGap: device.options.maxGap };
      const deviceName = config.name || describeDevice(device.options);
      for (const [group, tags] of groupTags(map.tags)) pollers.set(group, new GroupPoller(group, tags, limits, device, deviceName, device.options.pollTimeoutMs));

      device.conn.register(node, {
        onState(state: ConnectionState, detail?: string) {
          if (state === "connecting") status.waiting(detail ? `connecting (${detail})` : "connecting");
          else if (state === "connected") {
            status.waiting(`connected, ${map.tags.length} tags`);
            // First data at once rather than one (possibly long) period after deploy.
            for (const [group, poller] of pollers) if (map.periods[group] > 0 && poller.counters.polls === 0) void runPoll(poller, null, null);
          }
          else if (state === "disconnected") status.down(`comm_lost: ${detail ?? "disconnected"}`.slice(0, 60));
        },
      });
      for (const [group, poller] of pollers) {
        const period = map.periods[group];
        if (period > 0) timers.push(setInterval(() => void runPoll(poller, null, null), Math.max(MIN_PERIOD_MS, period)));
      }
    }

    /** Polls one group and sends its batch; never throws (a timer has nobody to throw to). */
    async function runPoll(poller: GroupPoller, msg: NodeMessage | null, send: NodeSend | null): Promise<void> {
      const device = config?.device;
      if (!device || closed) return;
      // Before the first connection attempt has finished there is nothing to say yet.
      if (device.conn.state === "connecting" && device.counters.requests === 0) return;
      const skippedBefore = poller.counters.skipped;
      let batch: Signal[] | null;
      try {
        batch = await poller.poll();
      } catch (err) {
        reportError(node, err, msg ?? { payload: null, topic: poller.group });
        return;
      }
      if (closed) return;
      if (!batch) {
        status.warning(`poll overrun: ${poller.group} skipped ${poller.counters.skipped}x`.slice(0, 60));
        if (poller.counters.skipped === skippedBefore + 1 && poller.counters.skipped % 100 === 1) {
          node.warn(`poll group "${poller.group}" is still running when its next poll is due; skipped (${poller.counters.skipped} so far)`);
        }
        return;
      }
      batch = stampWithDeviceClock(batch, mapTags);
      const out: NodeMessage = {
        ...(msg ?? {}),
        topic: poller.group,
        payload: batch,
        stats: { ...poller.counters, requestsPerPoll: poller.blocks.length, device: { ...device.counters, queue: device.queueLength } },
      } as NodeMessage;
      (send ?? node.send.bind(node))(out);
      updateStatus(batch);
    }

    function updateStatus(batch: Signal[]): void {
      const bad = batch.filter((s) => s.quality !== "good");
      if (bad.length === 0) status.flowing(`${batch.length} tags`);
      else if (bad.length === batch.length) status.down(`${bad[0].reasons?.[0] ?? "bad"}: ${bad.length} tags`);
      else status.warning(`${bad.length}/${batch.length} bad (${bad[0].reasons?.[0] ?? "bad"})`);
    }

    onInput(node, async (msg, send) => {
      const wanted = typeof msg.group === "string" ? [msg.group] : [...pollers.keys()];
      for (const group of wanted) {
        const poller = pollers.get(group);
        if (!poller) throw new ConfigError(`no poll group "${group}" (have: ${[...pollers.keys()].join(", ")})`);
        await runPoll(poller, msg, send);
      }
    });

    onClose(node, async (removed) => {
      closed = true;
      for (const t of timers) clearInterval(t);
      status.close();
      await config?.device?.conn.deregister(node, removed);
    });

    start();
  }
  RED.nodes.registerType("otb-modbus-in", OtbModbusIn as unknown as (this: Node, def: NodeDef) => void);
};
