/**
 * otb-context: stamps Signal batches with their line's context (ISA-95 path, product, batch,
 * order, shift, operating mode) and their UNS topics; takes product/batch/order/mode from
 * context messages (an MES, an operator form, a schedule), keeps them across restarts, and
 * emits a ContextEvent on output 2 for every change.
 */
import { defineNode, type NodeContext, type NodeController } from "../shared/define-node";
import { unsLinePath } from "../shared/envelope";
import type { NodeAPI, NodeMessageInFlow, NodeSend } from "../shared/red";
import type { Context } from "../shared/types";
import type { OtbLineNode } from "../otb-line/line-config";
import { contextSettings, type ContextFields, type ContextSettings } from "./context-config";
import { ContextFile, contextFilePath, loadContextFile } from "./context-file";
import { createModeDeriver } from "./mode";
import { ContextStamper, type OperatorContext } from "./stamper";
import { schema } from "./schema";
import { StampRouter, describe } from "./stamp-router";

class ContextController implements NodeController {
  private readonly router: StampRouter;

  constructor(private readonly ctx: NodeContext<ContextFields>, settings: ContextSettings, line: OtbLineNode, private readonly file: ContextFile | null, initial: OperatorContext, loadError: Error | null) {
    const identity: Context = line.identity();
    if (settings.cell) identity.cell = settings.cell;
    if (settings.asset) identity.asset = settings.asset;
    const stamper = new ContextStamper({ identity, shiftAt: line.shiftAt.bind(line), mode: createModeDeriver(settings.mode), initial });
    this.router = new StampRouter(stamper, unsLinePath(identity), settings.contextTopic, file);
    ctx.status.waiting(describe(stamper.context));
    // ctx.report holds it until the flow has started, so that its Catch nodes exist.
    if (loadError) ctx.report(loadError);
  }

  input(msg: NodeMessageInFlow, send: NodeSend): void {
    const result = this.router.handle(msg, send);
    if (result.status) this.ctx.status.flowing(result.status);
    // Not stamped and not passed on: said here, with the items, so a Catch node can route them.
    if (result.invalid) this.ctx.node.error(result.invalid.error, result.invalid.msg);
  }

  async close(): Promise<void> {
    await this.file?.flush();
  }
}

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    status: { idleAfterMs: 30_000 },
    create(ctx) {
      const settings = contextSettings(ctx.config);
      // The runner has checked the line is deployed and configured (a `ref` field).
      const line = RED.nodes.getNode(ctx.config.line) as unknown as OtbLineNode;
      let file: ContextFile | null = null;
      let initial: OperatorContext = {};
      let loadError: Error | null = null;
      if (settings.persist) {
        const path = contextFilePath(ctx.durableDir("otb-context's saved product, batch, order and mode (persist)"), ctx.node.id);
        file = new ContextFile(path, (err) => ctx.report(err, { payload: null, error: { message: `saving context: ${err.message}` } }));
        try {
          initial = loadContextFile(path);
        } catch (err) {
          loadError = new Error(`saved context ${path} is unreadable, starting empty: ${(err as Error).message}`);
        }
      }
      return new ContextController(ctx, settings, line, file, initial, loadError);
    },
  });
};
