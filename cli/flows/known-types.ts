/**
 * Node types `otbridge lint` accepts without complaint: Node-RED 4.x core, this pack's otb-*
 * types (the DESIGN.md table), and FlowFuse Dashboard 2 widgets (ui-*), a dev dependency the
 * examples may use. Anything else needs a package the target runtime may not have, so it is
 * reported; a repo lists its own extra types in .otbridgerc.json `knownTypes`.
 */

/** Node-RED 4.1 core (packages/node_modules/@node-red/nodes/core/**) plus the editor's containers. */
export const CORE_TYPES: ReadonlySet<string> = new Set([
  // containers and editor-only
  "tab", "subflow", "group", "junction", "comment",
  // common
  "inject", "debug", "complete", "catch", "status", "link in", "link out", "link call", "global-config",
  // function
  "function", "switch", "change", "range", "template", "delay", "trigger", "exec", "rbe", "filter",
  // network
  "mqtt in", "mqtt out", "mqtt-broker", "http in", "http response", "http request", "http proxy",
  "websocket in", "websocket out", "websocket-listener", "websocket-client", "tcp in", "tcp out",
  "tcp request", "udp in", "udp out", "tls-config",
  // sequence, parser, storage
  "split", "join", "sort", "batch", "csv", "html", "json", "xml", "yaml", "file", "file in", "watch",
]);

/** The pack's public node types (DESIGN.md "Nodes"). */
export const OTB_TYPES: ReadonlySet<string> = new Set([
  "otb-line", "otb-opcua-endpoint", "otb-modbus-device", "otb-mqtt-broker", "otb-conduit",
  "otb-opcua-in", "otb-modbus-in", "otb-mqtt-in", "otb-validate", "otb-context",
  "otb-window", "otb-infer", "otb-publish",
  // outcomes (issue 17)
  "otb-oee", "otb-spc",
]);

/** Subflow instances are typed `subflow:<id>`; they are known when the subflow is in the same file. */
export function isKnownType(type: string, subflowIds: ReadonlySet<string>, extra: ReadonlySet<string>): boolean {
  if (CORE_TYPES.has(type) || OTB_TYPES.has(type) || extra.has(type)) return true;
  if (/^ui-[a-z0-9-]+$/.test(type)) return true; // @flowfuse/node-red-dashboard 2.x
  if (type.startsWith("subflow:")) return subflowIds.has(type.slice("subflow:".length));
  return false;
}
