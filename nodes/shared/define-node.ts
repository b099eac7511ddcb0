/**
 * defineNode(): one way every otb node is registered. The schema is read once (migrations, field
 * checks, typed values); the node's behaviour lives in a small controller the `create` function
 * builds; this file keeps the Node-RED contracts (node-kit.ts) and the bookkeeping nodes used to
 * repeat:
 * - a configuration error turns the status red and reaches Catch nodes once;
 * - every report (`ctx.report`, the configuration error) made before the node's flow has started
 *   waits until it has (deploy-state.ts: Node-RED builds a flow's Catch list only after
 *   constructing every node of it, issue 16); a node closed before that logs what it dropped;
 * - a typed error thrown by the controller maps to the status (config → red, comm → red ring)
 *   and to done(err), so Catch gets the message;
 * - timers and listeners taken through the context are released at close.
 */
import type { EventEmitter } from "events";
import { DeployState, type StartHold } from "./deploy-state";
import { ConfigError, ConnectionError, toError } from "./errors";
import { onClose, onInput, reportError } from "./node-kit";
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeSend } from "./red";
import { isLegacyRefValue, migrate, readConfig, type ConfigOf, type NodeSchema } from "./schema";
import { StatusReporter, type StatusOptions } from "./status";
import { durableDir, userDirOf, userFile } from "./user-dir";

type Listener = Parameters<EventEmitter["on"]>[1];

export interface NodeController {
  input?(msg: NodeMessageInFlow, send: NodeSend): void | Promise<void>;
  close?(removed: boolean): void | Promise<void>;
}

export interface NodeContext<C> {
  RED: NodeAPI;
  node: Node;
  /** The saved node after migrations (fields the schema does not describe included). */
  def: NodeDef & Record<string, unknown>;
  config: C;
  credentials: Record<string, string | undefined>;
  status: StatusReporter;
  /**
   * Reports to the log and the node's Catch nodes (a message is built when none is given); held
   * until the node's flow has started.
   */
  report(err: unknown, msg?: NodeMessage | Record<string, unknown>): void;
  /** See user-dir.ts. */
  userDir: string | null;
  durableDir(what: string, ...parts: string[]): string;
  userFile(file: string): string;
  /** setInterval/setTimeout/listeners released when the node closes. */
  every(ms: number, fn: () => void): NodeJS.Timeout;
  after(ms: number, fn: () => void): NodeJS.Timeout;
  listen(emitter: EventEmitter, event: string, fn: Listener): void;
}

export interface NodeDefinition<S extends NodeSchema> {
  schema: S;
  status?: StatusOptions;
  /** Close work bound (node-kit's default otherwise). */
  closeTimeoutMs?: number;
  /** A config node: gets the `users` map Node-RED routes its status and errors through. */
  configNode?: boolean;
  /** A config node has no input; it is still defined the same way. */
  create(ctx: NodeContext<ConfigOf<S>>): NodeController | Promise<NodeController>;
  /**
   * Called (synchronously, in the constructor when the schema refuses the config) when the node
   * cannot run: a config node uses it to show its users what is wrong instead of a half-built API.
   */
  failed?(node: Node, err: Error): void;
  /**
   * A node that cannot run still gets messages: they go to Catch with the reason (done(err)); a
   * node with a reject output also routes them there, so nothing it was given vanishes.
   */
  refuse?(msg: NodeMessageInFlow, send: NodeSend, err: Error): void;
}

export function defineNode<S extends NodeSchema>(RED: NodeAPI, definition: NodeDefinition<S>): void {
  // The tracker must see the deploy start: types are registered before any flow starts.
  DeployState.of(RED);
  function OtbNode(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    if (definition.configNode) Object.assign(this, { users: {}, [RUNNER_USERS]: true });
    new NodeRunner(RED, this, def as NodeDef & Record<string, unknown>, definition);
  }
  const credentials = definition.schema.credentials;
  (RED.nodes.registerType as (type: string, ctor: unknown, opts?: unknown) => void)(
    definition.schema.type,
    OtbNode,
    credentials ? { credentials } : undefined,
  );
}

/** Marks a config node whose `users` map the runner keeps (its users register on start, leave at close). */
const RUNNER_USERS = "otbRunnerUsers";

/**
 * The node's config node (a `ref` field) has a configuration error: this node cannot run either,
 * but the config node already reports the cause to Catch through its users, so this one only
 * shows it in its status (one report per cause).
 */
class ConfigNodeError extends ConfigError {}

interface ConfigNodeLike {
  users?: Record<string, Node>;
  configError?: string | null;
  [RUNNER_USERS]?: boolean;
}

/**
 * Runs `fn` once the current deploy's flows have started (their Catch lists exist), at once if
 * they run. Returns a cancel. Uses the runtime's one tracker (deploy-state.ts); `waitMs` bounds
 * the wait only when the tracker has seen no deploy start (phase "unknown").
 */
export function afterFlowsStart(RED: NodeAPI, fn: () => void, waitMs?: number): () => void {
  const hold = DeployState.of(RED).hold(waitMs);
  hold.run(fn);
  return () => void hold.close();
}

class NodeRunner<S extends NodeSchema> {
  private controller: NodeController | null = null;
  private failure: Error | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly listeners: Array<[EventEmitter, string, Listener]> = [];
  private readonly status: StatusReporter;
  /** Reports wait here until the node's flow has started. */
  private readonly hold: StartHold;
  private readonly usedConfigNodes: ConfigNodeLike[] = [];
  private readonly ready: Promise<void>;
  private started = false;
  private readonly refuse: NodeDefinition<S>["refuse"];

  constructor(private readonly RED: NodeAPI, private readonly node: Node, def: NodeDef & Record<string, unknown>, definition: NodeDefinition<S>) {
    this.hold = DeployState.of(RED).hold();
    this.status = new StatusReporter(node, definition.status);
    this.refuse = definition.refuse;
    this.ready = this.start(def, definition);
    onInput(node, (msg, send) => this.input(msg, send));
    onClose(node, (removed) => this.close(removed), definition.closeTimeoutMs);
  }

  private async start(saved: NodeDef & Record<string, unknown>, definition: NodeDefinition<S>): Promise<void> {
    try {
      const def = migrate(definition.schema, saved) as NodeDef & Record<string, unknown>;
      const config = readConfig(definition.schema, def);
      this.useConfigNodes(definition.schema, config as Record<string, unknown>);
      this.controller = await definition.create(this.context(def, config));
    } catch (err) {
      const e = toError(err);
      definition.failed?.(this.node, e);
      this.fail(e, saved);
    } finally {
      this.started = true;
    }
  }

  /** Registers with the config nodes this node references; refuses to run when one of them cannot. */
  private useConfigNodes(schema: NodeSchema, config: Record<string, unknown>): void {
    for (const [name, spec] of Object.entries(schema.fields)) {
      const id = config[name];
      if (spec.kind !== "ref" || typeof id !== "string" || id === "") continue;
      // A flow saved before the config node type existed: the value is the node's own setting.
      if (isLegacyRefValue(spec, id)) continue;
      const target = this.RED.nodes.getNode(id) as unknown as ConfigNodeLike | null;
      if (!target) throw new ConfigError(`${name}: its ${spec.configType ?? "config"} node ${id} is not deployed`);
      if (target[RUNNER_USERS] && target.users) {
        target.users[this.node.id] = this.node;
        this.usedConfigNodes.push(target);
      }
      if (target.configError) throw new ConfigNodeError(`${name}: ${target.configError}`);
    }
  }

  private context(def: NodeDef & Record<string, unknown>, config: ConfigOf<S>): NodeContext<ConfigOf<S>> {
    const { RED, node } = this;
    return {
      RED,
      node,
      def,
      config,
      credentials: ((node as unknown as { credentials?: Record<string, string> }).credentials ?? {}),
      status: this.status,
      report: (err, msg) => this.report(err, msg),
      userDir: userDirOf(RED),
      durableDir: (what, ...parts) => durableDir(RED, what, ...parts),
      userFile: (file) => userFile(RED, file),
      every: (ms, fn) => this.track(setInterval(fn, ms)),
      after: (ms, fn) => {
        const t = setTimeout(() => {
          this.timers.delete(t);
          fn();
        }, ms);
        return this.track(t);
      },
      listen: (emitter, event, fn) => {
        emitter.on(event, fn);
        this.listeners.push([emitter, event, fn]);
      },
    };
  }

  private track(timer: NodeJS.Timeout): NodeJS.Timeout {
    this.timers.add(timer);
    return timer;
  }

  private report(err: unknown, msg?: NodeMessage | Record<string, unknown>): void {
    this.hold.run(() => reportError(this.node, err, msg), err);
  }

  /** The node cannot run: red status now, one report to Catch (once the flow has started). */
  private fail(err: Error, saved: NodeDef & Record<string, unknown>): void {
    this.failure = err;
    this.status.error(statusText(err));
    if (err instanceof ConfigNodeError) return;
    this.report(err, { payload: null, node: saved.name || saved.id, error: { message: err.message } });
  }

  /** Synchronous once the node has started: a per-message promise is measurable at 100k Signals/s. */
  private input(msg: NodeMessageInFlow, send: NodeSend): void | Promise<void> {
    if (!this.started) return this.ready.then(() => this.input(msg, send));
    if (this.failure) {
      this.refuse?.(msg, send, this.failure);
      throw this.failure;
    }
    const controller = this.controller;
    if (!controller?.input) return;
    let result: void | Promise<void>;
    try {
      result = controller.input(msg, send);
    } catch (err) {
      throw this.shown(err);
    }
    if (result && typeof result.then === "function") return result.then(undefined, (err: unknown) => Promise.reject(this.shown(err)));
  }

  /** A typed error from the controller, shown in the status (config red, comm red ring). */
  private shown(err: unknown): Error {
    const e = toError(err);
    if (e instanceof ConfigError) this.status.error(statusText(e));
    else if (e instanceof ConnectionError) this.status.down(statusText(e));
    return e;
  }

  private async close(removed: boolean): Promise<void> {
    // Closed before its flow started: its held reports would reach no Catch node; said once.
    const dropped = this.hold.close();
    if (dropped.length > 0) this.node.warn(`closed before its flow started: ${dropped.length} report(s) not sent to Catch: ${dropped.join("; ")}`.slice(0, 500));
    for (const t of this.timers) {
      clearInterval(t);
      clearTimeout(t);
    }
    this.timers.clear();
    for (const [emitter, event, fn] of this.listeners.splice(0)) emitter.removeListener(event, fn);
    for (const target of this.usedConfigNodes.splice(0)) delete target.users?.[this.node.id];
    await this.ready;
    try {
      await this.controller?.close?.(removed);
    } finally {
      this.status.close();
    }
  }
}

/** "config: window name is required", cut to what the editor shows under a node. */
export function statusText(err: Error): string {
  const code = (err as { code?: unknown }).code;
  const text = typeof code === "string" && code !== "" && !/^E[A-Z]+$/.test(code) ? `${code}: ${err.message}` : err.message;
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}
