/**
 * What a conduit lets through: topics on its allowlist (MQTT filters, so `acme/+/+/line1/#`
 * works), no wildcard or system topic built from data, and only the message kinds its policy
 * names. Pure functions: the editor's validators mirror isValidFilter().
 */
import type { MessageKindName } from "./conduit-config";
import { topicMatchesFilter as matchesFilter } from "../shared/envelope";

/** Why a publish was refused before the queue; `invalid` and `no_context` are found by otb-publish. */
export type Refusal = "topic_injection" | "not_allowlisted" | "kind_not_allowed" | "too_large" | "invalid" | "no_context";
export const REFUSALS: readonly Refusal[] = ["topic_injection", "not_allowlisted", "kind_not_allowed", "too_large", "invalid", "no_context"];

/** A publish topic must never carry wildcards, a leading `$`, empty levels or a NUL. */
export function isSafePublishTopic(topic: string): boolean {
  if (typeof topic !== "string" || topic.length === 0 || Buffer.byteLength(topic) > 65_535) return false;
  if (topic.startsWith("$") || /[+#\u0000]/.test(topic)) return false;
  return !topic.split("/").some((level) => level.length === 0 || level.startsWith("$"));
}

/** A subscription-style filter: `+` only as a whole level, `#` only as the whole last level. */
export function isValidFilter(filter: string): boolean {
  if (typeof filter !== "string" || filter.length === 0 || filter.includes("\u0000")) return false;
  const levels = filter.split("/");
  return levels.every((l, i) =>
    (l === "#" && i === levels.length - 1) || l === "+" || (!l.includes("+") && !l.includes("#")));
}

export { matchesFilter };

/** Distinct topics whose verdict is remembered; a plant has thousands of tags, not millions. */
const VERDICT_CACHE = 20_000;

export class TopicPolicy {
  /** Topic -> its refusal (injection, allowlist) and byte length: checked per record twice (queue and send). */
  private readonly verdicts = new Map<string, { refusal: Refusal | null; bytes: number }>();

  constructor(
    private readonly allow: readonly string[],
    private readonly kinds: ReadonlySet<MessageKindName>,
    readonly maxMessageBytes: number,
  ) {}

  /** Why this publish must not leave, or null when it may. */
  check(topic: string, kind: MessageKindName, payloadBytes: number): Refusal | null {
    const v = this.verdict(topic);
    if (v.refusal === "topic_injection") return v.refusal;
    if (!this.kinds.has(kind)) return "kind_not_allowed";
    if (v.refusal) return v.refusal;
    // Topic plus payload plus a fixed header allowance, as the broker counts a PUBLISH packet.
    if (payloadBytes + v.bytes + 16 > this.maxMessageBytes) return "too_large";
    return null;
  }

  private verdict(topic: string): { refusal: Refusal | null; bytes: number } {
    let v = typeof topic === "string" ? this.verdicts.get(topic) : undefined;
    if (v) return v;
    const refusal = !isSafePublishTopic(topic) ? "topic_injection" : !this.allow.some((f) => matchesFilter(f, topic)) ? "not_allowlisted" : null;
    v = { refusal, bytes: typeof topic === "string" ? Buffer.byteLength(topic) : 0 };
    if (typeof topic !== "string") return v;
    if (this.verdicts.size >= VERDICT_CACHE) this.verdicts.clear();
    this.verdicts.set(topic, v);
    return v;
  }
}
