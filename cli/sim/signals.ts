/**
 * A sample as DESIGN.md Signals (source protocol "sim"), for tests and benchmarks that want the
 * line's data without a protocol in between. Values are passed on raw, NaN and out-of-range
 * included (judging them is otb-validate's job); a tag with a Bad OPC UA status is "bad" with
 * the reason `opcua:<StatusCode>`, as the OPC UA ingestion would report it.
 */
import type { Signal } from "../../nodes/shared/types";
import type { Sample } from "./line";
import { ALL_PHYSICAL_TAGS } from "./tags";

export function sampleToSignals(sample: Sample, device = "line1-sim"): Signal[] {
  const out: Signal[] = [];
  for (const def of ALL_PHYSICAL_TAGS) {
    const value = sample.values[def.tag];
    if (value === undefined) continue;
    const bad = sample.bad.get(def.tag);
    const signal: Signal = { tag: def.tag, value, ts: sample.ts, quality: bad ? "bad" : "good", source: { protocol: "sim", address: def.tag, device } };
    if (bad) signal.reasons = [`opcua:${bad}`];
    if (def.unit) signal.unit = def.unit;
    out.push(signal);
  }
  return out;
}
