/**
 * The otb-publish status line, from the conduit's counters: connected or not, backlog, replay
 * progress, refusals, quarantine and drops. Green only while records are being delivered.
 */
import type { ConduitStats } from "../otb-conduit/conduit";

export type StatusKind = "flowing" | "waiting" | "warning" | "down" | "error" | "keep";

export function statusView(s: ConduitStats, delivering: boolean, newDrops: boolean): { kind: StatusKind; text: string } {
  const refused = Object.values(s.refused).reduce((a, b) => a + b, 0);
  // corruptLive: damage found while running, a counter the queue may report (queue branch).
  const lost = s.dropped + s.corrupt + ((s as { corruptLive?: number }).corruptLive ?? 0);
  const extras = [
    refused > 0 ? `${refused} refused` : "",
    s.quarantined > 0 ? `${s.quarantined} quarantined` : "",
    lost > 0 ? `${lost} dropped` : "",
    s.expired > 0 ? `${s.expired} expired` : "",
    // Sent again after a failover (issue 19): duplicates a consumer may see, not new records.
    (s.resent ?? 0) > 0 ? `${s.resent} re-sent` : "",
  ].filter(Boolean);
  const tail = extras.length ? ` · ${extras.join(" · ")}` : "";
  // The queue at its bound or at the disk's limit: said at once, connected or not (issue 15, F5).
  const full = (s as { full?: boolean }).full ? " · buffer full" : "";
  if (s.state !== "connected") {
    // During an outage every retry passes through "connecting": the reason stays on the status.
    if (s.reason) return { kind: "down", text: `${s.state === "connecting" ? "retrying" : "disconnected"}: ${s.reason} · ${s.queued} queued${full}${tail}` };
    const text = `${s.state === "connecting" ? "connecting" : "disconnected"} · ${s.queued} queued${full}${tail}`;
    return { kind: s.state === "connecting" ? "waiting" : "down", text };
  }
  // A conduit with several brokers (issue 19) says which one it is on; one broker: as before.
  const on = s.broker && s.broker.count > 1 ? `${s.broker.url} (${s.broker.index} of ${s.broker.count})` : "";
  const where = on ? ` · ${on}` : "";
  if (s.sparkplug && !s.sparkplug.hostOnline) return { kind: "warning", text: `host offline · ${s.queued} buffered${tail}${where}` };
  if (newDrops || full) return { kind: "warning", text: `buffer full · ${s.queued} queued${tail}${where}` };
  if (s.replaying) return { kind: "warning", text: `replaying · ${s.queued} left${tail}${where}` };
  if (delivering) return { kind: "flowing", text: `${s.delivered} sent · ${s.queued} queued${tail}${where}` };
  if (s.delivered === 0 && s.queued === 0) return { kind: "waiting", text: `connected${on ? ` to ${on}` : ""} · 0 queued${tail}` };
  return { kind: "keep", text: "" };
}
