/**
 * Checks several nodes' fields share. Each is self-contained (copied into the editor as source;
 * see field-problem.ts), returns the end of a sentence after the field name, or null.
 */
import type { FieldCheck } from "./field-spec";

/** A UNS topic level: not empty, no `/ + #`, no leading `$` (MQTT 5 §4.7.1; envelope.ts isSafeTopicLevel). */
export const topicLevel: FieldCheck = (value) =>
  /^(?!\$)[^/+#\u0000]+$/.test(String(value).trim()) ? null : `"${String(value)}" cannot be a topic level (no / + # or leading $)`;

/** An IANA time zone the platform knows (the same Intl the runtime's ShiftCalendar uses). */
export const timeZone: FieldCheck = (value) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: String(value) });
    return null;
  } catch {
    return `"${String(value)}" is not a time zone (IANA name such as Europe/Berlin)`;
  }
};

/** MQTT topic filters, one per line or comma-separated: `+` a whole level, `#` the whole last level, no `$` system topic. */
export const topicFilters: FieldCheck = (value) => {
  const list = Array.isArray(value) ? value.map(String) : String(value).split(/[\n,]/);
  for (const raw of list) {
    const f = raw.trim();
    if (!f || /^\$\{[^}]+\}$/.test(f)) continue;
    if (f.startsWith("$")) return `"${f}" targets a $ system topic`;
    const levels = f.split("/");
    const ok = !f.includes("\u0000") && levels.every((l, i) => (l === "#" && i === levels.length - 1) || l === "+" || (!l.includes("+") && !l.includes("#")));
    if (!ok) return `"${f}" is not a valid MQTT topic filter`;
  }
  return null;
};

export const COMMON_CHECKS = { topicLevel, timeZone, topicFilters };
