/**
 * Device clocks. A register-map row with `"role": "clock"` is a unit's real-time clock (many
 * meters and PLCs have one); its value after scale and offset is Unix time in ms (a uint32 of
 * Unix seconds with scale 1000, say). The clock is read with every poll group of its unit, and a
 * good reading stamps every Signal of that unit in the poll: ts becomes the time the device says
 * its values belong to, instead of the wall-clock time of the reply. This keeps a source whose
 * clock is not the host's (the otbridge simulator at --speed N, a meter on its own time line) on
 * the same time line as its OPC UA and MQTT peers. A clock that cannot be read in a poll (its
 * Signal is bad, with its reason, in the batch like any other tag) leaves the unit's time line
 * as the last reading moved on by the host's elapsed time; one never read leaves the poll's time.
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

/**
 * Stamps each poll's Signals with their unit's device time. A good clock reading in the poll is
 * used as it is; a poll whose clock read failed (a timeout under load, an exception) after the
 * clock has been read before gets the last reading moved on by the wall time since, so the
 * unit's Signals stay on the device's time line: stamping them with the host's time would put
 * them, for a device whose clock is not the host's, hours away from their peers, and a
 * time-integrating consumer (otb-oee) would take every later reading of the others as late. A
 * unit whose clock was never read keeps the poll's own time.
 */
export class DeviceClock {
  /** Unit -> device time minus host time at its last good reading. */
  private readonly offsets = new Map<number, number>();
  private readonly clocks: Set<string>;
  private readonly unitOf: Map<string, number>;

  constructor(tags: readonly TagDef[], private readonly now: () => number = Date.now) {
    this.clocks = new Set(tags.filter((t) => t.role === "clock").map((t) => t.tag));
    this.unitOf = new Map(tags.map((t) => [t.tag, t.unitId ?? -1]));
  }

  stamp(batch: Signal[]): Signal[] {
    if (this.clocks.size === 0) return batch;
    const now = this.now();
    const read = new Map<number, number>();
    for (const s of batch) {
      if (this.clocks.has(s.tag) && s.quality === "good" && typeof s.value === "number" && Number.isFinite(s.value)) {
        const unit = this.unitOf.get(s.tag) ?? -1;
        read.set(unit, Math.round(s.value));
        this.offsets.set(unit, Math.round(s.value) - now);
      }
    }
    return batch.map((s) => {
      const unit = this.unitOf.get(s.tag) ?? -1;
      const device = read.get(unit);
      if (device !== undefined) return s.ts === device ? s : { ...s, ts: device };
      const offset = this.offsets.get(unit);
      return offset === undefined ? s : { ...s, ts: now + offset };
    });
  }
}
