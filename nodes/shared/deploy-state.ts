/**
 * Reports a node makes before its flow has started are held back until it has: Node-RED builds a
 * flow's Catch list only after constructing every node of it (Flow.start in @node-red/runtime),
 * so node.error(err, msg) from a constructor, or from work it started (a file read, a model
 * load), reached the log and no Catch node (issue 16).
 *
 * One tracker per runtime follows the deploy on the runtime's events (flows:starting,
 * flows:started, flows:stopping), not one listener per node: the runtime's EventEmitter warns
 * past 10 listeners of one event. A node built while its deploy starts holds its reports until
 * that deploy's flows:started; a node built while the flows run reports at once. Redeploys
 * (full, modified flows or nodes) go through flows:stopping → flows:starting → flows:started
 * again, so only the nodes built by that deploy wait.
 */
import type { EventEmitter } from "events";
import { toError } from "./errors";
import type { NodeAPI } from "./red";

/** "unknown": no deploy seen (an embedding without the events, or between a stop and a start). */
type Phase = "unknown" | "starting" | "started";

/** A node built when the tracker cannot tell (phase "unknown") waits at most this long. */
export const UNKNOWN_PHASE_WAIT_MS = 10_000;

const trackers = new WeakMap<object, DeployState>();
/** For a RED object without events: one tracker that never sees a deploy. */
const NO_EVENTS = {};

export class DeployState {
  private phase: Phase = "unknown";
  private readonly waiting = new Set<StartHold>();

  /** The tracker of the runtime `RED` belongs to (created on first use). */
  static of(RED: NodeAPI): DeployState {
    const events = (RED as unknown as { events?: EventEmitter }).events ?? null;
    const key = events ?? NO_EVENTS;
    let state = trackers.get(key);
    if (!state) {
      state = new DeployState(events);
      trackers.set(key, state);
    }
    return state;
  }

  private constructor(private readonly events: EventEmitter | null) {
    events?.on("flows:starting", () => (this.phase = "starting"));
    events?.on("flows:started", () => this.started());
    events?.on("flows:stopping", () => (this.phase = "unknown"));
  }

  /**
   * A hold for a node being built now. Without the runtime's events the best guess is the next
   * turn of the event loop; in phase "unknown", the next flows:started or `waitMs`, whichever
   * comes first.
   */
  hold(waitMs = UNKNOWN_PHASE_WAIT_MS): StartHold {
    const hold = new StartHold(this);
    if (this.phase === "started") hold.open();
    else {
      this.waiting.add(hold);
      if (this.phase === "unknown") hold.openAfter(this.events ? waitMs : 0);
    }
    return hold;
  }

  /** @internal by StartHold when it opens or closes. */
  forget(hold: StartHold): void {
    this.waiting.delete(hold);
  }

  private started(): void {
    this.phase = "started";
    const holds = [...this.waiting];
    this.waiting.clear();
    for (const hold of holds) hold.open();
  }
}

interface Held {
  fn: () => void;
  why: unknown;
}

/** One node's hold: what it runs before its flow has started waits, in order. */
export class StartHold {
  private held: Held[] | null = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly state: DeployState) {}

  get isOpen(): boolean {
    return this.held === null;
  }

  /** Runs `fn` now if the flow has started (or the node closed), else once it has. */
  run(fn: () => void, why?: unknown): void {
    if (this.held === null) fn();
    else this.held.push({ fn, why });
  }

  /** @internal */
  openAfter(ms: number): void {
    this.timer = setTimeout(() => this.open(), ms);
  }

  /** @internal The flow has started: what was held runs now, in order. */
  open(): void {
    const held = this.release();
    for (const { fn } of held) fn();
  }

  /**
   * The node closes: what it still holds is not run (its flow never started, so no Catch node
   * would get it). Returns the reasons given to run(), for the node to log. Later calls run at once.
   */
  close(): string[] {
    return this.release().map(({ why }) => (why === undefined ? "(no reason given)" : toError(why).message));
  }

  private release(): Held[] {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.state.forget(this);
    const held = this.held ?? [];
    this.held = null;
    return held;
  }
}
