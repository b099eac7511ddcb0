/**
 * The message kinds a conduit can carry: one row each, with the byte stored in queue records
 * (never reuse or renumber a code: queued records outlive a software update) and the editor
 * flag that allows it. An absent flag is on, except for kinds added after conduits were first
 * saved (alarms, kpi): absent, they follow `allowEvents` (schema.ts, migration to version 2), so
 * an old flow does not silently widen what leaves the plant. A new kind is one row here, one
 * field in schema.ts and one checkbox in otb-conduit.html.
 */
import type { MessageKind } from "../shared/types";

export type MessageKindName = MessageKind;

export type KindFlag = "allowSignals" | "allowFeatures" | "allowInference" | "allowEvents" | "allowAlarms" | "allowKpi";

export const KIND_TABLE: ReadonlyArray<{ name: MessageKindName; code: number; flag: KindFlag; absentFollows?: KindFlag }> = [
  { name: "signals", code: 0, flag: "allowSignals" },
  { name: "features", code: 1, flag: "allowFeatures" },
  { name: "inference", code: 2, flag: "allowInference" },
  { name: "events", code: 3, flag: "allowEvents" },
  { name: "alarms", code: 4, flag: "allowAlarms", absentFollows: "allowEvents" },
  { name: "kpi", code: 5, flag: "allowKpi", absentFollows: "allowEvents" },
];
export const MESSAGE_KINDS: readonly MessageKindName[] = KIND_TABLE.map((k) => k.name);
/** Record kind codes stored in the queue (one byte per record). */
export const KIND_CODES = Object.fromEntries(KIND_TABLE.map((k) => [k.name, k.code])) as Record<MessageKindName, number>;
