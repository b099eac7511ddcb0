/**
 * Holds reports back until the deploy's flows have started. otb-infer finds some problems on its
 * own time (the model load runs asynchronously; the verdict file is read while the node is
 * built): Node-RED builds a flow's Catch list only after constructing every node of it, so a
 * report made earlier reached the log and no Catch node (issue 16; define-node.ts does the same
 * for configuration errors). Once the flow has started, reports go out at once.
 */
import { afterFlowsStart } from "../shared/define-node";
import type { NodeAPI } from "../shared/red";

export class StartGate {
  private started = false;
  private waiting: Array<() => void> = [];
  private readonly cancel: () => void;

  constructor(RED: NodeAPI) {
    this.cancel = afterFlowsStart(RED, () => {
      this.started = true;
      for (const fn of this.waiting.splice(0)) fn();
    });
  }

  /** Runs `fn` now if the flow has started, else when it has. */
  run(fn: () => void): void {
    if (this.started) fn();
    else this.waiting.push(fn);
  }

  /** Nothing held back is reported for a node that closed before its flow started. */
  close(): void {
    this.cancel();
    this.waiting = [];
  }
}
