/**
 * What otb-publish's status line says, from the conduit's counters (issues 15 and 20): "buffer
 * full" as soon as the queue is at its limit, connected or not; a reason while the link is down;
 * and "replaying" only for a backlog beyond one in-flight window, never for the few records a
 * healthy link under load has between PUBLISH and PUBACK.
 */
import { strict as assert } from "assert";
import type { ConduitStats } from "../../nodes/otb-conduit/conduit";
import { statusView } from "../../nodes/otb-publish/publish-status";

function stats(over: Partial<ConduitStats> & Record<string, unknown>): ConduitStats {
  return {
    produced: 0, recovered: 0, delivered: 0, quarantined: 0, dropped: 0, expired: 0, corrupt: 0, corruptLive: 0, queued: 0,
    inFlight: 0, bytes: 0, segments: 1, full: false, state: "connected", replaying: false,
    refused: { topic_injection: 0, not_allowlisted: 0, kind_not_allowed: 0, too_large: 0, invalid: 0, no_context: 0 },
    ...over,
  } as unknown as ConduitStats;
}

describe("otb-publish status line", () => {
  it("says buffer full while disconnected, with the reason and the count", () => {
    const v = statusView(stats({ state: "disconnected", reason: "refused", queued: 4000, full: true }), false, false);
    assert.equal(v.kind, "down");
    assert.equal(v.text, "disconnected: refused · 4000 queued · buffer full");
  });

  it("says buffer full while connected, and counts the drops", () => {
    const v = statusView(stats({ queued: 4000, full: true, dropped: 12, delivered: 5 }), true, false);
    assert.equal(v.kind, "warning");
    assert.equal(v.text, "buffer full · 4000 queued · 12 dropped");
  });

  it("a few records in flight on a healthy link are not a replay", () => {
    const v = statusView(stats({ queued: 12, inFlight: 12, delivered: 900, replaying: false }), true, false);
    assert.equal(v.kind, "flowing");
    assert.equal(v.text, "900 sent · 12 queued");
  });

  it("a backlog being drained is a replay", () => {
    const v = statusView(stats({ queued: 30_000, inFlight: 500, delivered: 900, replaying: true }), true, false);
    assert.equal(v.text, "replaying · 30000 left");
  });
});
