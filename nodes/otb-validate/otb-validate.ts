/**
 * otb-validate: schema and sensor rules for Signal batches. Output 1 carries good and uncertain
 * Signals, output 2 quarantines bad Signals (payload) and invalid items (msg.invalid), output 3
 * a periodic per-tag quality summary. Every item that comes in goes out exactly once; stale
 * tags are emitted on output 2 by a timer, with no input needed. The same counters are served
 * at GET <admin>/otb-validate/<node id>/quality behind Node-RED's admin auth.
 */
import {
  ConfigError,
  onClose,
  onInput,
  reportError,
  StatusReporter,
  ValidationError,
  type Node,
  type NodeAPI,
  type NodeDef,
  type NodeMessage,
  type NodeSend,
  type Signal,
} from "../shared";
import { pct } from "./counters";
import { QualityEngine } from "./engine";
import { readValidateConfig, type OtbValidateDef, type ValidateSettings } from "./validate-config";

interface OtbValidateNode extends Node {
  engine: QualityEngine | null;
}

/** Engines by node id, for the admin endpoint. */
const engines = new Map<string, QualityEngine>();

/** The recent good share halves every DECAY_MS, so the status shows now, not since deploy. */
const DECAY_MS = 10_000;

export = function (RED: NodeAPI): void {
  function OtbValidate(this: OtbValidateNode, def: OtbValidateDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new StatusReporter(node, { idleAfterMs: 30_000 });
    let settings: ValidateSettings | null = null;
    let configError = "";
    try {
      settings = readValidateConfig(def, RED.settings.userDir as string | undefined);
    } catch (err) {
      configError = (err as Error).message;
    }
    const engine = settings
      ? new QualityEngine({ rules: settings.rules, unknownTags: settings.unknownTags, maxStringLength: settings.maxStringLength })
      : null;
    node.engine = engine;
    const timers: NodeJS.Timeout[] = [];

    if (!engine || !settings) {
      status.error(`config: ${configError}`.slice(0, 60));
      reportError(node, new ConfigError(configError), { payload: null, error: { message: configError } });
    } else {
      engines.set(node.id, engine);
      status.waiting(`${settings.rules.length} rules (${settings.origin}), waiting`.slice(0, 60));
      const warnBelow = settings.warnBelowPct;
      const staleMs = engine.shortestStaleMs;
      if (staleMs > 0) {
        // Check often enough that a tag is reported within ~10% of its own stale period.
        const tick = Math.min(1000, Math.max(10, Math.floor(staleMs / 10)));
        timers.push(setInterval(() => sweep(), tick));
      }
      if (settings.summaryIntervalSec > 0) {
        timers.push(setInterval(() => sendSummary(), settings.summaryIntervalSec * 1000));
      }
      timers.push(
        setInterval(() => {
          engine.recentGood /= 2;
          engine.recentTotal /= 2;
        }, DECAY_MS),
      );
      for (const t of timers) t.unref?.();

      const showStatus = (): void => {
        const good = pct(engine.recentGood, engine.recentTotal);
        const stale = engine.staleCount;
        const text = `${good ?? 0}% good${stale ? `, ${stale} stale` : ""}`;
        if ((good ?? 0) < warnBelow || stale > 0) status.warning(text);
        else status.flowing(text);
      };

      const sweep = (): void => {
        try {
          const stale = engine.sweepStale();
          if (stale.length === 0) return;
          node.send([null, { topic: "stale", payload: stale, invalid: [] }, null]);
          showStatus();
        } catch (err) {
          reportError(node, err);
        }
      };

      const sendSummary = (): void => {
        try {
          node.send([null, null, { topic: "quality", payload: engine.counters.summary(Date.now(), engine.catalogTags) }]);
        } catch (err) {
          reportError(node, err);
        }
      };

      onInput(node, (msg, send: NodeSend) => {
        const { passed, quarantined, invalid } = engine.processBatch(msg.payload);
        route(msg, send, passed, quarantined, invalid);
        showStatus();
        if (invalid.length > 0) {
          throw new ValidationError(`${invalid.length} item(s) are not valid Signals; first: [${invalid[0].index}] ${invalid[0].reason}`.slice(0, 500));
        }
      });
    }

    if (!engine) {
      // Unconfigured: nothing passes, but nothing vanishes either.
      onInput(node, (msg, send: NodeSend) => {
        const items = Array.isArray(msg.payload) ? (msg.payload as unknown[]) : [msg.payload];
        const reason = `otb-validate is not configured: ${configError}`;
        route(msg, send, [], [], items.map((item, index) => ({ index, item, reason })));
        throw new ConfigError(configError);
      });
    }

    onClose(node, () => {
      for (const t of timers) clearInterval(t);
      status.close();
      if (engines.get(node.id) === engine) engines.delete(node.id);
    });
  }

  function route(msg: NodeMessage, send: NodeSend, passed: Signal[], quarantined: Signal[], invalid: unknown[]): void {
    let out1: NodeMessage | null = null;
    let out2: NodeMessage | null = null;
    if (quarantined.length > 0 || invalid.length > 0) {
      out2 = { _msgid: msg._msgid, topic: msg.topic, payload: quarantined, invalid } as NodeMessage;
    }
    if (passed.length > 0) {
      msg.payload = passed;
      out1 = msg;
    }
    if (out1 || out2) send([out1, out2, null]);
  }

  RED.nodes.registerType("otb-validate", OtbValidate as unknown as (this: Node, def: NodeDef) => void);

  // Per-tag quality counters for dashboards and audits, behind the editor's admin auth.
  RED.httpAdmin.get("/otb-validate/:id/quality", RED.auth.needsPermission("otb-validate.read"), (req, res) => {
    const engine = engines.get(String(req.params.id));
    if (!engine) {
      res.status(404).json({ error: "no deployed otb-validate node with this id" });
      return;
    }
    res.json(engine.counters.summary(Date.now(), engine.catalogTags));
  });
  RED.httpAdmin.post("/otb-validate/:id/reset", RED.auth.needsPermission("otb-validate.write"), (req, res) => {
    const engine = engines.get(String(req.params.id));
    if (!engine) {
      res.status(404).json({ error: "no deployed otb-validate node with this id" });
      return;
    }
    engine.resetCounters();
    res.json({ reset: true, since: engine.counters.since });
  });
};
