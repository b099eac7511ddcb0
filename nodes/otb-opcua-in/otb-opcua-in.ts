/**
 * otb-opcua-in: subscribes to a tag list through an otb-opcua-endpoint and emits one Signal[]
 * batch per publishing cycle. Node-RED glue only; the subscription's life (outages, watchdog)
 * is in opcua-in-controller.ts, the subscription in tag-subscription.ts and the OPC UA ->
 * Signal mapping in signal-mapping.ts.
 */
import { defineNode } from "../shared/define-node";
import { num } from "../shared/node-kit";
import type { NodeAPI } from "../shared/red";
import type { OpcuaEndpointNode } from "../otb-opcua-endpoint/endpoint-config";
import type { OpcuaInController } from "./opcua-in-controller";
import { tagsOf, type TagDef } from "./tag-list";
import { schema } from "./schema";

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    status: { idleAfterMs: 15_000 },
    create(ctx) {
      // The runner checked that the endpoint is deployed and usable (else "config: endpoint: ...").
      const endpointNode = RED.nodes.getNode(ctx.config.endpoint) as unknown as OpcuaEndpointNode;
      let tags: TagDef[];
      try {
        tags = tagsOf(ctx.config, ctx.userFile);
      } catch (err) {
        // Not a user of the endpoint after all: its outages are not this node's to hear about.
        delete endpointNode.users[ctx.node.id];
        throw err;
      }
      // Required here, not at registration: it loads node-opcua-client (see otb-opcua-endpoint.ts).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { OpcuaInController: Controller } = require("./opcua-in-controller") as { OpcuaInController: typeof OpcuaInController };
      return new Controller(ctx, endpointNode.endpoint!, tags, num(ctx.config.publishingInterval, 1_000, 50, 3_600_000));
    },
  });
};
