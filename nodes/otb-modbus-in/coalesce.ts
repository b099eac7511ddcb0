/**
 * Coalescing: a poll group's tags become the fewest read requests the limits allow. Tags are
 * grouped by (unit id, area), sorted by address, and a block grows while the next tag fits
 * within `maxCount` items from the block's start and the hole before it is at most `maxGap`.
 * Greedy left-to-right is optimal here (covering sorted intervals with windows of bounded
 * length), so the result is the minimum request count for the given limits.
 */
import { at } from "../shared/checked";
import { tagWidth, type Area, type TagDef } from "./register-map";

export interface Limits {
  /** Registers per read (the protocol allows 125 for FC3/FC4). */
  maxRegisters: number;
  /** Bits per read for coils/discrete inputs (the protocol allows 2000). */
  maxBits: number;
  /** Largest run of unwanted registers worth reading through to save a request. */
  maxGap: number;
  /** Largest run of unwanted bits worth reading through (bits are cheap: 16 per register). */
  maxBitGap: number;
}

export const PROTOCOL_LIMITS: Limits = { maxRegisters: 125, maxBits: 2000, maxGap: 10, maxBitGap: 160 };

export interface Block {
  area: Area;
  unitId: number | undefined;
  start: number;
  count: number;
  tags: TagDef[];
}

export function isBitArea(area: Area): boolean {
  return area === "coil" || area === "discrete";
}

export function planBlocks(tags: readonly TagDef[], limits: Limits): Block[] {
  const byKey = new Map<string, TagDef[]>();
  for (const t of tags) {
    const key = `${t.unitId ?? ""}|${t.area}`;
    const list = byKey.get(key);
    if (list) list.push(t);
    else byKey.set(key, [t]);
  }
  const blocks: Block[] = [];
  for (const list of byKey.values()) {
    const area = at(list, 0).area; // a key is set with its first tag, so no list is empty
    const maxCount = isBitArea(area) ? limits.maxBits : limits.maxRegisters;
    const maxGap = isBitArea(area) ? limits.maxBitGap : limits.maxGap;
    const sorted = [...list].sort((a, b) => a.address - b.address || tagWidth(b) - tagWidth(a));
    let current: Block | null = null;
    for (const t of sorted) {
      const end = t.address + tagWidth(t); // exclusive
      if (current) {
        const currentEnd = current.start + current.count;
        const gap = t.address - currentEnd;
        const newCount = Math.max(currentEnd, end) - current.start;
        if (gap <= maxGap && newCount <= maxCount) {
          current.count = newCount;
          current.tags.push(t);
          continue;
        }
      }
      current = { area, unitId: t.unitId, start: t.address, count: tagWidth(t), tags: [t] };
      blocks.push(current);
    }
  }
  return blocks;
}

/** One block per tag: what the incumbent's one-read-node-per-value flows issue. */
export function planPerTag(tags: readonly TagDef[]): Block[] {
  return tags.map((t) => ({ area: t.area, unitId: t.unitId, start: t.address, count: tagWidth(t), tags: [t] }));
}
