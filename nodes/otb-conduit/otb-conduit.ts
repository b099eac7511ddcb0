/**
 * otb-conduit: the config node for one northbound conduit (DESIGN.md "Zones and conduits").
 * It owns the durable queue and the one MQTT connection its otb-publish nodes share, and keeps
 * `users` pointing at the connection's user map so that its errors reach their Catch nodes.
 * A configuration that breaks the zone rules (plaintext or MQTT 3.1.1 into L4/L5, a conduit
 * going down) never connects: the error is reported and every user shows it.
 */
import * as os from "os";
import * as path from "path";
import { onClose, reportError } from "../shared";
import type { Node, NodeAPI, NodeDef } from "../shared/red";
import { Conduit, type OtbConduitNode } from "./conduit";
import { parseConduitConfig, type ConduitDef } from "./conduit-config";
import { describeBroker, type LinkFailure } from "./link-failure";
import type { QueueRecord } from "./queue/record";

/** How long a closing conduit waits for its closing users (otb-publish drains in well under this). */
const USERS_GONE_MS = 3000;

export = function (RED: NodeAPI): void {
  function OtbConduit(this: OtbConduitNode, def: ConduitDef & NodeDef): void {
    RED.nodes.createNode(this, def);
    // A failure found while the flows are still starting would reach no Catch node (they and the
    // users may not exist yet): such a report waits for "flows:started" (or 2 s at most).
    let started = false;
    const deferred: Array<() => void> = [];
    const start = (): void => {
      started = true;
      clearTimeout(fallback);
      for (const f of deferred.splice(0)) f();
    };
    const whenStarted = (f: () => void): void => void (started ? f() : deferred.push(f));
    const fallback = setTimeout(start, 2000);
    RED.events.once("flows:started", start);
    this.users = {};
    this.conduit = null;
    this.configError = null;
    const userDir = (RED.settings as { userDir?: string }).userDir ?? path.join(os.tmpdir(), "otbridge");
    try {
      const conduit = new Conduit(parseConduitConfig(def, this.credentials ?? {}, userDir));
      this.conduit = conduit;
      this.users = conduit.connection.users;
      conduit.on("quarantined", (record: QueueRecord, reason: string) => {
        reportError(this, new Error(`quarantined ${record.topic}: ${reason}`), {
          topic: record.topic, payload: record.payload.toString("utf8"), quarantine: { reason, seq: record.seq, file: conduit.quarantine.file },
        });
      });
      conduit.on("fault", (err: Error) => reportError(this, err));
      // Once per outage, with the reason: Catch on every flow that uses the conduit, and the log.
      // With several brokers the report names the one that failed; the conduit is already trying
      // the next (mqtt-link.ts), and the log says which one took over once the link is stable.
      conduit.on("link-down", (failure: LinkFailure) => whenStarted(() => {
        const s = conduit.stats();
        const broker = failure.broker ?? s.broker;
        const where = broker.count > 1 ? ` broker ${describeBroker(broker)}` : "";
        const next = broker.count > 1 ? "; failing over to the next broker" : "";
        reportAndLog(this, new Error(`conduit ${def.name || broker.url}${where}: ${failure.message}${next}`), {
          payload: { conduit: def.name || def.id, broker: broker.url, brokers: conduit.cfg.urls, failure: failure.failure, reason: failure.summary, queued: s.queued },
        });
      }));
      conduit.on("link-restored", (downMs: number, first: LinkFailure) => {
        const now = conduit.stats().broker;
        const moved = first.broker && first.broker.url !== now.url ? `failed over from ${first.broker.url} to ${describeBroker(now)}` : `connection to ${describeBroker(now)} restored`;
        this.log(`${moved} after ${(downMs / 1000).toFixed(1)} s (${first.summary}); ${conduit.stats().queued} queued`);
      });
    } catch (err) {
      this.configError = (err as Error).message;
      reportError(this, err, { payload: null, conduit: def.name || def.id });
    }
    // Node-RED closes a config node alongside its users, not after them (flows.stop). Records a
    // closing otb-publish still receives must find the queue open, so wait (bounded) for the
    // users to finish; the queue's last commit then writes them. Well inside Node-RED's 15 s.
    onClose(this, async () => {
      RED.events.removeListener("flows:started", start);
      clearTimeout(fallback);
      const conduit = this.conduit;
      if (!conduit) return;
      const end = Date.now() + USERS_GONE_MS;
      while (conduit.connection.userCount > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      await conduit.close();
    }, 10_000);
  }
  /**
   * Catch nodes, and one error line in the log whether or not a Catch took it: Node-RED's
   * node.error(err, msg) logs only when no Catch node handled the error (Node.prototype.error),
   * and an outage must always be in the log.
   */
  function reportAndLog(node: OtbConduitNode, err: Error, msg: Record<string, unknown>): void {
    const flow = (node as unknown as { _flow?: { handleError?(n: Node, e: Error, m: unknown): boolean } })._flow;
    if (typeof flow?.handleError !== "function") return reportError(node, err, msg);
    flow.handleError(node, err, msg);
    node.error(err);
  }

  RED.nodes.registerType("otb-conduit", OtbConduit as unknown as (this: Node, def: NodeDef) => void, {
    credentials: { user: { type: "text" }, password: { type: "password" }, passphrase: { type: "password" } },
  } as never);
};
