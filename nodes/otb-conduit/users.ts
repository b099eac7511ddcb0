/**
 * Who hears a conduit's errors. Node-RED routes a config node's error() and status() to the
 * nodes in its `users` map (Flow.handleError/handleStatus in @node-red/runtime). defineNode
 * keeps there the nodes whose ref field names the conduit, from their start until their close
 * begins. A node registered with the conduit's connection is a user too: one still draining its
 * last messages after its close began, or one not defined through defineNode. The view below
 * lists both; writes (the runner registering and removing users) go to the runner's map.
 */
import type { Node } from "../shared/red";

export function withConnectionUsers(runner: Record<string, Node>, connection: Readonly<Record<string, Node>>): Record<string, Node> {
  const inConnection = (k: string | symbol): k is string => typeof k === "string" && Object.hasOwn(connection, k);
  return new Proxy(runner, {
    get: (target, k) => (!Object.hasOwn(target, k) && inConnection(k) ? connection[k] : Reflect.get(target, k)),
    has: (target, k) => Reflect.has(target, k) || inConnection(k),
    ownKeys: (target) => [...new Set([...Reflect.ownKeys(target), ...Reflect.ownKeys(connection)])],
    getOwnPropertyDescriptor: (target, k) =>
      Reflect.getOwnPropertyDescriptor(target, k) ?? (inConnection(k) ? { value: connection[k], writable: true, enumerable: true, configurable: true } : undefined),
  });
}
