/** Node-RED runtime types used across the pack, on top of @types/node-red (which lags 4.x). */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus } from "node-red";

export type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus };
export type NodeSend = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type NodeDone = (err?: Error) => void;

/** The config node a flow node points at, looked up with RED.nodes.getNode(). */
export function getConfigNode<T>(RED: NodeAPI, id: string | undefined): T | null {
  if (!id) return null;
  return (RED.nodes.getNode(id) as unknown as T) ?? null;
}
