/**
 * The model an otb-infer scores with: loaded (pinned, checked in a child process: model-loader.ts)
 * into the node's InferEngine, and, with hot reload on, loaded again when the model file or its
 * card changes (model-watcher.ts). Loads never overlap: a change noticed during a load starts
 * one more load after it. A new model replaces the running one only once it passed every check;
 * the same bytes and card again (a touched file) change nothing. The running model's session is
 * released only after the batch using it has settled.
 */
import { toError } from "../shared/errors";
import { cardPathFor } from "../shared/model-card";
import type { InferConfig } from "./infer-config";
import type { InferEngine } from "./infer-engine";
import { loadModel, type LoadedModel } from "./model-loader";
import { ModelWatcher } from "./model-watcher";

export interface ModelSlotEvents {
  /** `model` scores from now on (called before the previous model is released). */
  installed(model: LoadedModel, previous: LoadedModel | null): void;
  /** The previous model, if any, is released: announce the new one. */
  loaded(model: LoadedModel, previous: LoadedModel | null): void;
  /** The files hold the running model again (touched, or a refused file replaced by the good one). */
  unchanged(model: LoadedModel): void;
  /** A model was refused; `running` keeps scoring (null: none loads at all). */
  refused(err: Error, running: LoadedModel | null): void;
}

/** The part of the InferEngine that holds the model. */
export type ModelHolder = Pick<InferEngine, "current" | "setModel" | "batchSettled">;

/** How long the child process may take to check a model before it is refused. */
export const CHECK_TIMEOUT_MS = 30_000;

export class ModelSlot {
  private loading: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private readonly watcher: ModelWatcher | null;

  constructor(private readonly engine: ModelHolder, private readonly config: InferConfig, private readonly events: ModelSlotEvents) {
    this.watcher = config.hotReload
      ? new ModelWatcher([config.modelPath, config.cardPath ?? cardPathFor(config.modelPath)], { pollMs: config.pollMs, settleMs: 300 }, () => void this.load())
      : null;
  }

  /** Loads the model; during a load, schedules one more after it. Settles when this load (or the one under way) has. */
  load(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.loadOnce().finally(() => {
      this.loading = null;
      if (this.again && !this.closed) {
        this.again = false;
        void this.load();
      }
    });
    return this.loading;
  }

  /**
   * No more loads. A load under way is not waited for (its check in a child process may take up
   * to CHECK_TIMEOUT_MS, far beyond a close's bound): it releases its own model when it finishes.
   */
  close(): void {
    this.closed = true;
    this.watcher?.close();
  }

  private async loadOnce(): Promise<void> {
    const previous = this.engine.current;
    let model: LoadedModel;
    try {
      const c = this.config;
      model = await loadModel({
        modelPath: c.modelPath, cardPath: c.cardPath, pinnedSha256: c.pinnedSha256,
        threads: c.threads, execution: c.execution, isolate: true, checkTimeoutMs: CHECK_TIMEOUT_MS, checkCacheDir: c.checkCacheDir,
      });
    } catch (err) {
      if (!this.closed) this.events.refused(toError(err), previous);
      return;
    }
    if (this.closed) {
      await model.release();
      return;
    }
    if (previous && previous.sha256 === model.sha256 && JSON.stringify(previous.card) === JSON.stringify(model.card)) {
      await model.release(); // touched, not changed
      this.events.unchanged(previous);
      return;
    }
    this.engine.setModel(model);
    this.events.installed(model, previous);
    if (previous) {
      await this.engine.batchSettled(); // never release a session under a running batch
      await previous.release();
    }
    if (!this.closed) this.events.loaded(model, previous);
  }
}
