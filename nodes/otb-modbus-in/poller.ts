/**
 * One poll group: reads its tags in the planned blocks and turns the replies into one Signal[]
 * batch. Failure is per block: an exception or a timeout makes that block's tags bad with a
 * reason (`modbus:exception_<n>`, `comm_lost`) while the rest of the batch stays good. An
 * "illegal data address" (code 2) on a coalesced block splits it into one read per tag, so a
 * single missing register no longer blanks its neighbours. The split is not for good: once every
 * part has read cleanly for `remergeAfter` polls the block is merged again, and each time the
 * merged block fails with code 2 again that wait doubles (up to MAX_REMERGE_WAIT polls), so a
 * transient code 2 costs one poll of extra requests while a register that is really missing
 * (e.g. an unmapped gap read through) settles on the split plan with a few probes at most.
 * A timer poll that comes due while the previous one still runs is deferred: it starts as soon as
 * that one ends (counted `late`), so a poll that takes just over its period costs no rate; more
 * ticks during the same poll are skipped and counted, never queued behind (at most one poll
 * waits, so requests cannot pile up behind a slow device). Every request of one poll carries the
 * poll's deadline (pollTimeoutMs).
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
  /** Polls that came due while the previous one ran and started when it ended. */
  late: number;
  skipped: number;
  requests: number;
  good: number;
  bad: number;
  splits: number;
  merges: number;
}

/** Polls a split block waits at most before its merged read is tried again. */
export const MAX_REMERGE_WAIT = 1024;

/** A coalesced block read tag by tag since an exception 2. */
interface Split {
  merged: Block;
  parts: Block[];
  cleanPolls: number;
  remergeAfter: number;
}

export class GroupPoller {
  blocks: Block[];
  readonly counters: PollCounters = { polls: 0, late: 0, skipped: 0, requests: 0, good: 0, bad: 0, splits: 0, merges: 0 };
  private busy = false;
  /** A timer tick came while busy: one poll is owed, started by takeDue() when this one ends. */
  private due = false;
  /** By merged block; kept after a merge so that a new split remembers the doubled wait. */
  private readonly splitState = new Map<Block, Split>();
  private deadline: number | undefined;
  /** Whether each block's last read succeeded (the split poll itself counts for its parts). */
  private readonly lastClean = new WeakMap<Block, boolean>();

  constructor(
    readonly group: string,
    readonly tags: readonly TagDef[],
    limits: Limits,
    private readonly port: ReadPort,
    private readonly deviceName: string,
    /** The longest one poll may take, all requests and retries included; 0 = unbounded. */
    private readonly pollTimeoutMs = 0,
  ) {
    this.blocks = planBlocks(tags, limits);
  }

  get running(): boolean {
    return this.busy;
  }

  /**
   * Reads the group once; null when the previous poll of this group has not finished. A timer's
   * tick (`whenBusy` "defer") is then owed once (takeDue); anything else, or a second tick, is skipped.
   */
  async poll(whenBusy: "skip" | "defer" = "skip"): Promise<Signal[] | null> {
    if (this.busy) {
      if (whenBusy === "defer" && !this.due) this.due = true;
      else this.counters.skipped++;
      return null;
    }
    this.busy = true;
    try {
      this.counters.polls++;
      this.deadline = this.pollTimeoutMs > 0 ? Date.now() + this.pollTimeoutMs : undefined;
      const results = await Promise.all(this.blocks.map((b) => this.readBlock(b)));
      this.remergeClean();
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

  /** True (once) when a timer tick came due during the poll that just ended: poll again now. */
  takeDue(): boolean {
    if (!this.due || this.busy) return false;
    this.due = false;
    this.counters.late++;
    return true;
  }

  private async readBlock(block: Block): Promise<Signal[]> {
    this.counters.requests++;
    const req: ReadRequest = { area: block.area, start: block.start, count: block.count, unitId: block.unitId };
    if (this.deadline !== undefined) req.deadline = this.deadline;
    const outcome = await this.port.read(req);
    this.lastClean.set(block, outcome.ok);
    if (outcome.ok) {
      // A merged block that reads cleanly again forgets its history: the next transient code 2
      // waits one clean poll again, not the doubled wait of a register that is really missing.
      this.splitState.delete(block);
      return block.tags.map((t) => this.decoded(t, block, outcome.data, outcome.ts));
    }
    if (outcome.exceptionCode === 2 && block.tags.length > 1) return this.split(block);
    return block.tags.map((t) => this.signal(t, null, outcome.ts, "bad", [outcome.reason]));
  }

  /** Isolates the bad address: this block is read tag by tag until the parts read cleanly. */
  private async split(block: Block): Promise<Signal[]> {
    const parts = planPerTag(block.tags);
    const i = this.blocks.indexOf(block);
    if (i >= 0) this.blocks.splice(i, 1, ...parts);
    const before = this.splitState.get(block);
    // A merge that failed again doubles the wait; a first split tries again after one clean poll.
    const remergeAfter = before ? Math.min(MAX_REMERGE_WAIT, before.remergeAfter * 2) : 1;
    const state: Split = { merged: block, parts, cleanPolls: 0, remergeAfter };
    this.splitState.set(block, state);
    this.counters.splits++;
    return (await Promise.all(parts.map((p) => this.readBlock(p)))).flat();
  }

  /** Merges every split whose parts all read cleanly in enough polls in a row. */
  private remergeClean(): void {
    for (const state of this.splitState.values()) {
      const first = state.parts[0];
      const at = first ? this.blocks.indexOf(first) : -1;
      if (at < 0) continue; // merged already
      const clean = state.parts.every((p) => this.lastClean.get(p) === true);
      state.cleanPolls = clean ? state.cleanPolls + 1 : 0;
      if (state.cleanPolls < state.remergeAfter) continue;
      this.blocks.splice(at, state.parts.length, state.merged);
      this.counters.merges++;
    }
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
