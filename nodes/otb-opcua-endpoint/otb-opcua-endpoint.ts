/**
 * otb-opcua-endpoint: the config node that owns one OPC UA client session per server, shared by
 * every otb-opcua-in that points at it. It also serves two admin HTTP endpoints for the editor,
 * behind Node-RED's own admin auth: the server's certificates (to pin one) and browsing.
 */
import { ConfigError, toError } from "../shared/errors";
import { defineNode, type NodeContext } from "../shared/define-node";
import type { Node, NodeAPI } from "../shared/red";
import { durableDir } from "../shared/user-dir";
import { endpointFromConfig, type EndpointCredentials, type EndpointFields, type OpcuaEndpointNode } from "./endpoint-config";
import type { OpcuaEndpoint } from "./opcua-endpoint";
import { schema } from "./schema";

interface Request {
  params: Record<string, string>;
  query: Record<string, unknown>;
}
interface Response {
  status(code: number): Response;
  json(body: unknown): void;
}

/**
 * The client's PKI (its own certificate and key, trusted and rejected server certificates): set
 * explicitly by settings.otbOpcuaEndpointPkiDir or OTB_OPCUA_PKI_DIR, else <userDir>/otbridge/
 * opcua-pki. Durable: a new client certificate after a reboot would have to be trusted again by
 * every server, so without userDir the endpoint refuses to start.
 */
function pkiDir(RED: NodeAPI): string {
  const setting = (RED.settings as unknown as Record<string, unknown>).otbOpcuaEndpointPkiDir;
  if (typeof setting === "string" && setting.trim()) return setting;
  if (process.env.OTB_OPCUA_PKI_DIR) return process.env.OTB_OPCUA_PKI_DIR;
  return durableDir(RED, "the OPC UA client's certificates (PKI)", "otbridge", "opcua-pki");
}

/** Reports an outage once (with the reason that started it) and says in the log when it ends. */
function watchEndpoint(ctx: NodeContext<EndpointFields>, endpoint: OpcuaEndpoint): void {
  const url = endpoint.settings.endpointUrl;
  // Once per outage, not once per retry: a Catch flow must not be flooded. Later reasons in the
  // same outage go to the log and the users' status.
  ctx.listen(endpoint, "outage", (reason: string) => ctx.report(new Error(`${url}: ${reason}`), { payload: null, endpoint: url, reason }));
  let lastWarned = "";
  ctx.listen(endpoint, "recovered", () => {
    lastWarned = "";
    ctx.node.log(`${url}: connected again`);
  });
  ctx.listen(endpoint.conn, "state", (state: string, detail?: string) => {
    if (state !== "disconnected" || !detail || detail === endpoint.outage || detail === lastWarned) return;
    lastWarned = detail;
    ctx.node.warn(`${url}: ${detail}`);
  });
}

/**
 * The modules that load node-opcua-client (about 65 MB of RSS in a Node-RED process), required
 * when the first endpoint is deployed or the editor asks about a server, not when Node-RED
 * registers the node: a Node-RED whose flows have no OPC UA never loads node-opcua.
 */
type OpcuaModules = typeof import("./opcua-endpoint") & typeof import("./discovery");
let loaded: OpcuaModules | undefined;
function opcua(RED: NodeAPI): OpcuaModules {
  if (!loaded) {
    /* eslint-disable @typescript-eslint/no-require-imports */
    (require("./node-opcua-log") as typeof import("./node-opcua-log")).routeNodeOpcuaLogs(RED);
    loaded = { ...(require("./opcua-endpoint") as typeof import("./opcua-endpoint")), ...(require("./discovery") as typeof import("./discovery")) };
    /* eslint-enable @typescript-eslint/no-require-imports */
  }
  return loaded;
}

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    configNode: true,
    create(ctx) {
      const settings = endpointFromConfig(ctx.config, ctx.credentials as EndpointCredentials);
      for (const w of settings.warnings) ctx.node.warn(w);
      const endpoint: OpcuaEndpoint = new (opcua(RED).OpcuaEndpoint)(settings, pkiDir(RED));
      const node = ctx.node as OpcuaEndpointNode;
      // One users map: the connection's. Node-RED routes this node's status and errors to the
      // nodes in `users`; the runner registers users there (none yet: config nodes start first).
      Object.assign(endpoint.conn.users, node.users);
      Object.assign(node, { configError: null, endpoint, users: endpoint.conn.users });
      watchEndpoint(ctx, endpoint);
      return { close: () => endpoint.conn.close() };
    },
    failed(node: Node, err: Error) {
      Object.assign(node as OpcuaEndpointNode, { configError: err.message, endpoint: null });
    },
  });

  const http = RED.httpAdmin as unknown as { get(path: string, ...handlers: unknown[]): void };
  const read = RED.auth.needsPermission("otb-opcua-endpoint.read");
  // Probing makes the runtime open a connection to a URL the editor chooses: an editing right.
  const probe = RED.auth.needsPermission("otb-opcua-endpoint.write");
  const fail = (res: Response, err: unknown): void => {
    const e = toError(err);
    res.status(e instanceof ConfigError ? 400 : 502).json({ error: e.message });
  };

  // The certificates a server presents, for pinning. Takes a URL so that it works before deploy.
  http.get("/otb-opcua-endpoint/certificates", probe, (req: Request, res: Response) => {
    Promise.resolve()
      .then(() => opcua(RED).probeEndpoints(String(req.query.url ?? ""), pkiDir(RED)))
      .then((endpoints) => res.json({ endpoints }), (err) => fail(res, err));
  });

  // Browsing goes through a deployed endpoint's session, with its security and identity.
  http.get("/otb-opcua-endpoint/:id/browse", read, (req: Request, res: Response) => {
    const id = req.params.id;
    const node = id ? (RED.nodes.getNode(id) as unknown as OpcuaEndpointNode | null) : null;
    const session = node?.endpoint?.session;
    if (!node || node.type !== "otb-opcua-endpoint") return res.status(404).json({ error: "endpoint not deployed: deploy it first, then browse" });
    if (!session) return res.status(409).json({ error: `endpoint not connected (${node.endpoint?.conn.state ?? node.configError ?? "no session"})` });
    opcua(RED).browseChildren(session, req.query.nodeId as string | undefined).then((entries) => res.json({ entries }), (err) => fail(res, err));
  });
};
