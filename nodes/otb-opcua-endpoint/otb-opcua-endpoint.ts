/**
 * otb-opcua-endpoint: the config node that owns one OPC UA client session per server, shared by
 * every otb-opcua-in that points at it. It also serves two admin HTTP endpoints for the editor,
 * behind Node-RED's own admin auth: the server's certificates (to pin one) and browsing.
 */
import * as os from "os";
import * as path from "path";
import { ConfigError, onClose, reportError, toError } from "../shared";
import { routeNodeOpcuaLogs } from "./node-opcua-log";
import type { Node, NodeAPI, NodeDef } from "../shared/red";
import { parseEndpointConfig, type EndpointCredentials, type OpcuaEndpointDef, type OpcuaEndpointNode } from "./endpoint-config";
import { OpcuaEndpoint } from "./opcua-endpoint";
import { browseChildren, probeEndpoints } from "./discovery";

interface Request {
  params: Record<string, string>;
  query: Record<string, unknown>;
}
interface Response {
  status(code: number): Response;
  json(body: unknown): void;
}

export = function (RED: NodeAPI): void {
  routeNodeOpcuaLogs(RED);
  const settings = RED.settings as unknown as Record<string, unknown>;
  const pkiDir = (): string =>
    String(
      settings.otbOpcuaEndpointPkiDir ||
        process.env.OTB_OPCUA_PKI_DIR ||
        path.join(String(settings.userDir || path.join(os.homedir(), ".node-red")), "otbridge", "opcua-pki"),
    );

  function OtbOpcuaEndpoint(this: OpcuaEndpointNode & { credentials: EndpointCredentials }, def: OpcuaEndpointDef): void {
    RED.nodes.createNode(this, def);
    this.configError = null;
    this.endpoint = null;
    this.users = {};
    try {
      const parsed = parseEndpointConfig(def, this.credentials ?? {});
      for (const w of parsed.warnings) this.warn(w);
      const endpoint = new OpcuaEndpoint(parsed, pkiDir());
      this.endpoint = endpoint;
      // The same object, so Node-RED routes this node's status/errors to users' Status/Catch nodes.
      this.users = endpoint.conn.users;
      // Once per outage, with the reason that started it, not once per retry: a Catch flow must
      // not be flooded. Later reasons in the same outage go to the log and the users' status.
      endpoint.on("outage", (reason: string) => {
        reportError(this, new Error(`${parsed.endpointUrl}: ${reason}`), { payload: null, endpoint: parsed.endpointUrl, reason });
      });
      let lastWarned = "";
      endpoint.on("recovered", () => {
        lastWarned = "";
        this.log(`${parsed.endpointUrl}: connected again`);
      });
      endpoint.conn.on("state", (state: string, detail?: string) => {
        if (state !== "disconnected" || !detail || detail === endpoint.outage || detail === lastWarned) return;
        lastWarned = detail;
        this.warn(`${parsed.endpointUrl}: ${detail}`);
      });
    } catch (err) {
      this.configError = toError(err).message;
      reportError(this, err, { payload: null, endpoint: def.endpointUrl });
    }
    onClose(this, async () => {
      await this.endpoint?.conn.close();
    });
  }

  RED.nodes.registerType("otb-opcua-endpoint", OtbOpcuaEndpoint as unknown as (this: Node, def: NodeDef) => void, {
    credentials: {
      username: { type: "text" },
      password: { type: "password" },
      userCertificate: { type: "password" },
      userPrivateKey: { type: "password" },
    },
  } as never);

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
    probeEndpoints(String(req.query.url ?? ""), pkiDir()).then((endpoints) => res.json({ endpoints }), (err) => fail(res, err));
  });

  // Browsing goes through a deployed endpoint's session, with its security and identity.
  http.get("/otb-opcua-endpoint/:id/browse", read, (req: Request, res: Response) => {
    const node = RED.nodes.getNode(req.params.id) as unknown as OpcuaEndpointNode | null;
    const session = node?.endpoint?.session;
    if (!node || node.type !== "otb-opcua-endpoint") return res.status(404).json({ error: "endpoint not deployed: deploy it first, then browse" });
    if (!session) return res.status(409).json({ error: `endpoint not connected (${node.endpoint?.conn.state ?? node.configError ?? "no session"})` });
    browseChildren(session, req.query.nodeId as string | undefined).then((entries) => res.json({ entries }), (err) => fail(res, err));
  });
};
