/**
 * The tag catalogs as data (flows/catalog/*.json), built from the same tables the servers use.
 * A test proves the committed files equal these, so the catalog cannot drift from the simulator;
 * `otbridge simulate --write-catalogs DIR` regenerates them.
 */
import * as fs from "fs";
import * as path from "path";
import { MODBUS_MAP, type RegisterMap } from "./modbus-map";
import { LINE_NAME, OPCUA_TAGS, opcuaNodeId } from "./tags";

export interface OpcuaCatalogTag {
  tag: string;
  nodeId: string;
  browsePath: string;
  dataType: string;
  unit?: string;
  euRange?: { low: number; high: number };
  description: string;
}

export interface OpcuaCatalog {
  $comment: string;
  version: 1;
  endpoint: string;
  namespaceUri: string;
  line: string;
  tags: OpcuaCatalogTag[];
}

export const OPCUA_NAMESPACE_URI = "urn:otbridge:simulator";

export function opcuaCatalog(line = LINE_NAME): OpcuaCatalog {
  return {
    $comment: "OPC UA tags of the otbridge line simulator (cli/sim). nodeId ns=1 is the server's own namespace (namespaceUri). Analog tags are AnalogItemType with EngineeringUnits and EURange.",
    version: 1,
    endpoint: "opc.tcp://127.0.0.1:4840",
    namespaceUri: OPCUA_NAMESPACE_URI,
    line,
    tags: OPCUA_TAGS.map((d) => ({
      tag: d.tag,
      nodeId: opcuaNodeId(d, line),
      browsePath: `Objects/${line}/${d.asset}/${d.name}`,
      dataType: d.type,
      ...(d.unit ? { unit: d.unit } : {}),
      ...(d.range && d.type === "Double" ? { euRange: d.range } : {}),
      description: d.description,
    })),
  };
}

export function modbusCatalog(): RegisterMap {
  return MODBUS_MAP;
}

export const CATALOG_FILES = {
  opcua: "simulator-opcua-tags.json",
  modbus: "simulator-modbus-map.json",
} as const;

/** Pretty, stable JSON (2-space indent, trailing newline) so git diffs stay readable. */
export function catalogText(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

export function writeCatalogs(dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const opcua = path.join(dir, CATALOG_FILES.opcua);
  const modbus = path.join(dir, CATALOG_FILES.modbus);
  fs.writeFileSync(opcua, catalogText(opcuaCatalog()));
  fs.writeFileSync(modbus, catalogText(modbusCatalog()));
  return [opcua, modbus];
}
