/**
 * otb-infer: FeatureFrames in, Inferences out (output 1); Alarms (raise/clear), drift reports,
 * model (re)load events, operator Verdicts and alarm KPIs out of output 2. A message with
 * `payload.kind === "verdict"` ({alarmId, verdict, note, user}) judges one of this node's alarms:
 * it is stored under the user directory (verdict-store.ts) and goes out as a Verdict event
 * followed by the alarm KPI of that model and week. The model is pinned by its card's sha256,
 * checked in a child process before this process parses it, shared between nodes, and
 * hot-reloaded only after the new file passed the same checks.
 * The behaviour is in infer-controller.ts; the configuration in schema.ts and infer-config.ts.
 */
import * as path from "path";
import { defineNode } from "../shared/define-node";
import type { NodeAPI } from "../shared/red";
import { inferFromSettings } from "./infer-config";
import { InferController } from "./infer-controller";
import { schema } from "./schema";

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    status: { idleAfterMs: 30_000 },
    create(ctx) {
      // Relative model and card paths are read from userDir (user-dir.ts, the one resolver). A
      // model check's pass is remembered there (check-cache.ts): only a speed-up, so without a
      // userDir every load checks again.
      const checkCacheDir = ctx.userDir ? path.join(ctx.userDir, "otbridge", "model-checks") : undefined;
      return new InferController(ctx, { ...inferFromSettings(ctx.config, ctx.userFile(".")), checkCacheDir });
    },
  });
};
