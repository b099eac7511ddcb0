/**
 * One otb-modbus-in on its device's shared connection: a GroupPoller per poll group, a timer
 * per group with a period, polls on an input message, status and Catch for what goes wrong.
 */
import { ConfigError } from "../shared/errors";
import type { NodeContext, NodeController } from "../shared/define-node";
import type { NodeMessage, NodeMessageInFlow, NodeSend } from "../shared/red";
import type { ConnectionState } from "../shared/shared-connection";
import type { Signal } from "../shared/types";
import type { ModbusDevice } from "../otb-modbus-device/modbus-device";
import { PROTOCOL_LIMITS } from "./coalesce";
import { CLOCK_UNREAD, DeviceClock } from "./device-clock";
import type { ResolvedMap } from "./map-source";
import { GroupPoller, groupTags } from "./poller";
import type { ModbusInFields } from "./schema";

/** The shortest period a timer may run at; faster polling only builds skipped-poll counts. */
const MIN_PERIOD_MS = 10;

export class ModbusInController implements NodeController {
  private readonly pollers = new Map<string, GroupPoller>();
  private closed = false;
  private readonly deviceClock: DeviceClock;
  private readonly clockHoldMs: number;

  constructor(private readonly ctx: NodeContext<ModbusInFields>, private readonly device: ModbusDevice, private readonly map: ResolvedMap, deviceName: string) {
    // Long enough for the first polls of a busy host to time out (pollTimeoutMs) and be retried.
    this.clockHoldMs = Math.max(10_000, 5 * device.options.pollTimeoutMs);
    this.deviceClock = new DeviceClock(map.tags, Date.now, { maxHoldMs: this.clockHoldMs });
    const limits = { ...PROTOCOL_LIMITS, maxRegisters: device.options.maxRegisters, maxGap: device.options.maxGap };
    for (const [group, tags] of groupTags(map.tags)) this.pollers.set(group, new GroupPoller(group, tags, limits, device, deviceName, device.options.pollTimeoutMs));
    device.conn.register(ctx.node, { onState: (state, detail) => this.onState(state, detail) });
    for (const [group, poller] of this.pollers) {
      const period = map.periods[group] ?? 0;
      if (period > 0) ctx.every(Math.max(MIN_PERIOD_MS, period), () => void this.onTick(poller));
    }
  }

  async input(msg: NodeMessageInFlow, send: NodeSend): Promise<void> {
    const wanted = typeof msg.group === "string" ? [msg.group] : [...this.pollers.keys()];
    for (const group of wanted) {
      const poller = this.pollers.get(group);
      if (!poller) throw new ConfigError(`no poll group "${group}" (have: ${[...this.pollers.keys()].join(", ")})`);
      await this.runPoll(poller, msg, send);
      // A tick that came due during this poll runs now; the message's done() does not wait for it.
      void this.catchUp(poller);
    }
  }

  async close(removed: boolean): Promise<void> {
    this.closed = true;
    await this.device.conn.deregister(this.ctx.node, removed);
  }

  private onState(state: ConnectionState, detail?: string): void {
    const status = this.ctx.status;
    if (state === "connecting") status.waiting(detail ? `connecting (${detail})` : "connecting");
    else if (state === "connected") {
      status.waiting(`connected, ${this.map.tags.length} tags`);
      // First data at once rather than one (possibly long) period after deploy.
      for (const [group, poller] of this.pollers) if ((this.map.periods[group] ?? 0) > 0 && poller.counters.polls === 0) void this.onTick(poller);
    } else if (state === "disconnected") status.down(`comm_lost: ${detail ?? "disconnected"}`.slice(0, 60));
  }

  /** A timer tick: poll, then at once the poll owed to a tick that came due meanwhile (poller.ts). */
  private async onTick(poller: GroupPoller): Promise<void> {
    await this.runPoll(poller, null, null, "defer");
    await this.catchUp(poller);
  }

  private async catchUp(poller: GroupPoller): Promise<void> {
    while (!this.closed && poller.takeDue()) await this.runPoll(poller, null, null, "defer", true);
  }

  /** Polls one group and sends its batch; never throws (a timer has nobody to throw to). */
  private async runPoll(poller: GroupPoller, msg: NodeMessage | null, send: NodeSend | null, whenBusy: "skip" | "defer" = "skip", late = false): Promise<void> {
    const { ctx, device } = this;
    if (this.closed) return;
    // Before the first connection attempt has finished there is nothing to say yet.
    if (device.conn.state === "connecting" && device.counters.requests === 0) return;
    const skippedBefore = poller.counters.skipped;
    let batch: Signal[] | null;
    try {
      batch = await poller.poll(whenBusy);
    } catch (err) {
      ctx.report(err, msg ?? { payload: null, topic: poller.group });
      return;
    }
    if (this.closed) return;
    if (!batch) {
      if (poller.counters.skipped === skippedBefore) return; // deferred, not skipped: it runs when the current poll ends
      ctx.status.warning(`poll overrun: ${poller.group} skipped ${poller.counters.skipped}x`.slice(0, 60));
      if (poller.counters.skipped === skippedBefore + 1 && poller.counters.skipped % 100 === 1) {
        ctx.node.warn(`poll group "${poller.group}" is still running when its next poll is due; skipped (${poller.counters.skipped} so far)`);
      }
      return;
    }
    const stamped = this.deviceClock.stamp(poller.group, batch);
    for (const unit of stamped.gaveUp) {
      const err = new Error(`${unitName(unit)}: device clock not read in ${this.clockHoldMs} ms; its Signals go out with the host's time, quality uncertain (${CLOCK_UNREAD}) until it is`);
      ctx.report(err, msg ?? { payload: null, topic: poller.group });
    }
    for (const unit of stamped.recovered) ctx.node.log(`${unitName(unit)}: device clock read again; its Signals are on the device's time line`);
    for (const { group, batch: signals } of stamped.out) {
      const of = this.pollers.get(group) ?? poller;
      const out = {
        ...(group === poller.group ? msg ?? {} : {}),
        topic: group,
        payload: signals,
        stats: { ...of.counters, requestsPerPoll: of.blocks.length, device: { ...device.counters, queue: device.queueLength, inFlightLimit: device.inFlightLimit }, clock: { ...this.deviceClock.counters, holding: this.deviceClock.holding } },
      } as NodeMessage;
      (send ?? ctx.node.send.bind(ctx.node))(out);
    }
    const last = stamped.out[stamped.out.length - 1];
    if (this.deviceClock.holding > 0) ctx.status.waiting(`waiting for device clock: ${this.deviceClock.holding} held`.slice(0, 60));
    else if (this.deviceClock.unread.length > 0) ctx.status.warning(`${CLOCK_UNREAD}: ${this.deviceClock.unread.map(unitName).join(", ")}, host time`.slice(0, 60));
    else if (last) this.updateStatus(last.batch, late ? poller : null);
  }

  /** `late`: the poller whose poll just sent started late, so the period asked is not being met. */
  private updateStatus(batch: Signal[], late: GroupPoller | null): void {
    const status = this.ctx.status;
    const bad = batch.filter((s) => s.quality !== "good");
    if (bad.length === 0 && late) status.warning(`${batch.length} tags, poll overrun: ${late.group} late ${late.counters.late}x`.slice(0, 60));
    else if (bad.length === 0) status.flowing(`${batch.length} tags`);
    else if (bad.length === batch.length) status.down(`${bad[0]!.reasons?.[0] ?? "bad"}: ${bad.length} tags`);
    else status.warning(`${bad.length}/${batch.length} bad (${bad[0]!.reasons?.[0] ?? "bad"})`);
  }
}

function unitName(unit: number): string {
  return unit < 0 ? "device" : `unit ${unit}`;
}
