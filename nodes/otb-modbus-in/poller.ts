/**
 * One poll group: reads its tags in the planned blocks and turns the replies into one Signal[]
 * batch. Failure is per block: an exception or a timeout makes that block's tags bad with a
 * reason (`modbus:exception_<n>`, `comm_lost`) while the rest of the batch stays good. An
 * "illegal data address" (code 2) on a coalesced block splits it into one read per tag for
 * good, so a single missing register no longer blanks its neighbours. A poll that is still
 * running when the next one is due is skipped and counted, never queued behind.
 */
import type { Signal, SignalValue } from "../shared";
import type { ReadOutcome, ReadRequest } from "../otb-modbus-device/modbus-device";
import { planBlocks, planPerTag, type Block, type Limits } from "./coalesce";
import { extractTag } from "./decode";
import { tagWidth, type TagDef } from "./register-map";

export interface ReadPort {
  read(req: ReadRequest): Promise<ReadOutcome>;
}

export interface PollCounters {
  polls: number;
  skipped: number;
  requests: number;
  good: number;
  bad: number;
  splits: number;
}

export class GroupPoller {
  blocks: Block[];
  readonly counters: PollCounters = { polls: 0, skipped: 0, requests: 0, good: 0, bad: 0, splits: 0 };
  private busy = false;

  constructor(
    readonly group: string,
    readonly tags: readonly TagDef[],
    limits: Limits,
    private readonly port: ReadPort,
    private readonly deviceName: string,
  ) {
    this.blocks = planBlocks(tags, limits);
  }

  get running(): boolean {
    return this.busy;
  }

  /** Reads the group once; null when the previous poll of this group has not finished. */
  async poll(): Promise<Signal[] | null> {
    if (this.busy) {
      this.counters.skipped++;
      return null;
    }
    this.busy = true;
    try {
      this.counters.polls++;
      const results = await Promise.all(this.blocks.map((b) => this.readBlock(b)));
      const batch = results.flat();
      for (const s of batch) {
        if (s.quality === "good") this.counters.good++;
        else this.counters.bad++;
      }
      return batch;
    } finally {
      this.busy = false;
    }
  }

  private async readBlock(block: Block): Promise<Signal[]> {
    this.counters.requests++;
    const outcome = await this.port.read({ area: block.area, start: block.start, count: block.count, unitId: block.unitId });
    if (outcome.ok) return block.tags.map((t) => this.decoded(t, block, outcome.data, outcome.ts));
    if (outcome.exceptionCode === 2 && block.tags.length > 1) {
      // Isolate the bad address: from now on this block is read tag by tag.
      const parts = planPerTag(block.tags);
      const i = this.blocks.indexOf(block);
      if (i >= 0) this.blocks.splice(i, 1, ...parts);
      this.counters.splits++;
      return (await Promise.all(parts.map((p) => this.readBlock(p)))).flat();
    }
    return block.tags.map((t) => this.signal(t, null, outcome.ts, "bad", [outcome.reason]));
  }

  private decoded(tag: TagDef, block: Block, data: ReadonlyArray<number | boolean>, ts: number): Signal {
    let value: SignalValue;
    try {
      value = extractTag(tag, block.start, data, tagWidth(tag));
    } catch {
      return this.signal(tag, null, ts, "bad", ["comm_lost"]);
    }
    // JSON cannot carry NaN or Infinity; a float register holding one is a fault, not a value.
    if (typeof value === "number" && !Number.isFinite(value)) return this.signal(tag, null, ts, "bad", ["not_finite"]);
    return this.signal(tag, value, ts, "good");
  }

  private signal(tag: TagDef, value: SignalValue, ts: number, quality: Signal["quality"], reasons?: string[]): Signal {
    const s: Signal = {
      tag: tag.tag,
      value,
      ts,
      quality,
      source: { protocol: "modbus", address: sourceAddress(tag), device: this.deviceName },
    };
    if (reasons) s.reasons = reasons;
    if (tag.unit) s.unit = tag.unit;
    return s;
  }
}

/** "holding:40" or, for a tag on another slave of the same wire, "unit7/holding:40". */
export function sourceAddress(tag: TagDef): string {
  return `${tag.unitId === undefined ? "" : `unit${tag.unitId}/`}${tag.area}:${tag.address}`;
}

/** Tags by poll group, in map order. */
export function groupTags(tags: readonly TagDef[]): Map<string, TagDef[]> {
  const groups = new Map<string, TagDef[]>();
  for (const t of tags) {
    const list = groups.get(t.group);
    if (list) list.push(t);
    else groups.set(t.group, [t]);
  }
  return groups;
}
