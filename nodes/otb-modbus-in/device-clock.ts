/**
 * Device clocks. A register-map row with `"role": "clock"` is a unit's real-time clock (many
 * meters and PLCs have one); its value after scale and offset is Unix time in ms (a uint32 of
 * Unix seconds with scale 1000, say). The clock is read with every poll group of its unit, and a
 * good reading stamps every Signal of that unit in the poll: ts becomes the time the device says
 * its values belong to, instead of the wall-clock time of the reply. This keeps a source whose
 * clock is not the host's (the otbridge simulator at --speed N, a meter on its own time line) on
 * the same time line as its OPC UA and MQTT peers. A clock that cannot be read leaves the poll's
 * own time; the clock's Signal (bad, with its reason) is in the batch like any other tag.
 */
import type { Signal } from "../shared";
import type { TagDef } from "./register-map";

/** Every clock row copied into every poll group (same tag name: one per group's batch). */
export function withClockInEveryGroup(tags: TagDef[]): TagDef[] {
  const clocks = tags.filter((t) => t.role === "clock");
  if (clocks.length === 0) return tags;
  const groups = [...new Set(tags.filter((t) => t.role !== "clock").map((t) => t.group))];
  const out = tags.filter((t) => t.role !== "clock");
  for (const c of clocks) for (const group of groups.length ? groups : [c.group]) out.push({ ...c, group });
  return out;
}

/** The batch with each unit's Signals stamped by that unit's clock reading, where it read good. */
export function stampWithDeviceClock(batch: Signal[], tags: readonly TagDef[]): Signal[] {
  const clocks = new Set(tags.filter((t) => t.role === "clock").map((t) => t.tag));
  if (clocks.size === 0) return batch;
  const unitOf = new Map(tags.map((t) => [t.tag, t.unitId ?? -1]));
  const clockTs = new Map<number, number>();
  for (const s of batch) {
    if (clocks.has(s.tag) && s.quality === "good" && typeof s.value === "number" && Number.isFinite(s.value)) clockTs.set(unitOf.get(s.tag)!, Math.round(s.value));
  }
  if (clockTs.size === 0) return batch;
  return batch.map((s) => {
    const ts = clockTs.get(unitOf.get(s.tag) ?? -1);
    return ts === undefined ? s : { ...s, ts };
  });
}
