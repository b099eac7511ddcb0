/**
 * Every otb node's schema (nodes/<type>/schema.ts) and the runtime's own parser of a saved node,
 * as lint runs them: the field checks the editor runs, then, when no field waits for a ${VAR},
 * the parser the node runs at deploy (issue 16: one definition, no second copy in lint).
 * Parsers listed here are pure: no files, no network. Contract rules (zones, TLS, model pins,
 * secrets) live in their own rules.

 */
import type { FlowNode } from "./flow-file";

import type { NodeSchema } from "../../nodes/shared/schema/field-spec";
import { schema as lineSchema } from "../../nodes/otb-line/schema";
import { parseLineConfig } from "../../nodes/otb-line/line-config";
import { schema as windowSchema } from "../../nodes/otb-window/schema";
import { parseWindowConfig } from "../../nodes/otb-window/window-config";
import { schema as inferSchema } from "../../nodes/otb-infer/schema";
import { parseInferConfig } from "../../nodes/otb-infer/infer-config";
import { schema as opcuaEndpointSchema } from "../../nodes/otb-opcua-endpoint/schema";
import { parseEndpointConfig } from "../../nodes/otb-opcua-endpoint/endpoint-config";
import { schema as opcuaInSchema } from "../../nodes/otb-opcua-in/schema";
import { parseOpcuaInConfig } from "../../nodes/otb-opcua-in/tag-list";
import { schema as modbusDeviceSchema } from "../../nodes/otb-modbus-device/schema";
import { parseDeviceConfig } from "../../nodes/otb-modbus-device/device-config";
import { schema as modbusInSchema } from "../../nodes/otb-modbus-in/schema";
import { parseModbusInConfig } from "../../nodes/otb-modbus-in/map-source";
import { schema as validateSchema } from "../../nodes/otb-validate/schema";
import { parseValidateConfig } from "../../nodes/otb-validate/validate-config";
import { schema as contextSchema } from "../../nodes/otb-context/schema";
import { parseContextConfig } from "../../nodes/otb-context/context-config";
import { schema as oeeSchema } from "../../nodes/otb-oee/schema";
import { parseOeeConfig } from "../../nodes/otb-oee/oee-config";
import { schema as spcSchema } from "../../nodes/otb-spc/schema";
import { parseSpcConfig } from "../../nodes/otb-spc/spc-config";
import { schema as publishSchema } from "../../nodes/otb-publish/schema";
import { schema as mqttBrokerSchema } from "../../nodes/otb-mqtt-broker/schema";
import { parseBrokerConfig } from "../../nodes/otb-mqtt-broker/broker-config";
import { schema as mqttInSchema } from "../../nodes/otb-mqtt-in/schema";
import { parseMqttInConfig } from "../../nodes/otb-mqtt-in/mqtt-in-config";
import { schema as conduitSchema } from "../../nodes/otb-conduit/schema";
import { checkConduitPolicy } from "../../nodes/otb-conduit/conduit-config";

export interface SchemaEntry {
  schema: NodeSchema;
  /** The node's runtime parser of a saved node: throws a ConfigError naming the field. */
  parse?: (def: Record<string, unknown>) => unknown;
}

/** A runtime parser as lint runs it: a blank config-node reference is missing-config's to report, not the parser's. */
function refsAside(schema: NodeSchema, parse: (def: Record<string, unknown>) => unknown): (def: Record<string, unknown>) => unknown {
  return (def) => {
    const filled = { ...def };
    for (const [name, spec] of Object.entries(schema.fields)) if (spec.kind === "ref" && !String(filled[name] ?? "").trim()) filled[name] = "(missing-config)";
    return parse(filled);
  };
}

export const SCHEMAS: Record<string, SchemaEntry> = {
  "otb-line": { schema: lineSchema, parse: parseLineConfig },
  "otb-infer": { schema: inferSchema, parse: (def) => parseInferConfig(def, ".") },
  "otb-window": { schema: windowSchema, parse: (def) => parseWindowConfig(def, String(def.cardPath ?? "").trim() ? [] : undefined) },
  // Credentials are not in a flow file: lint checks the endpoint without them (null).
  "otb-opcua-endpoint": { schema: opcuaEndpointSchema, parse: (def) => parseEndpointConfig(def, null) },
  "otb-opcua-in": { schema: opcuaInSchema, parse: refsAside(opcuaInSchema, parseOpcuaInConfig) },
  "otb-modbus-device": { schema: modbusDeviceSchema, parse: parseDeviceConfig },
  "otb-modbus-in": { schema: modbusInSchema, parse: refsAside(modbusInSchema, parseModbusInConfig) },
  "otb-validate": { schema: validateSchema, parse: parseValidateConfig },
  "otb-context": { schema: contextSchema, parse: parseContextConfig },
  "otb-oee": { schema: oeeSchema, parse: parseOeeConfig },
  "otb-spc": { schema: spcSchema, parse: parseSpcConfig },
  "otb-publish": { schema: publishSchema },
  // Credentials are not in a flow file: lint checks the broker without them.
  "otb-mqtt-broker": { schema: mqttBrokerSchema, parse: (def) => parseBrokerConfig(def) },
  "otb-mqtt-in": { schema: mqttInSchema, parse: refsAside(mqttInSchema, parseMqttInConfig) },
  "otb-conduit": { schema: conduitSchema, parse: checkConduitPolicy },
};

const WHOLE_ENV = /^\$\{[^}]+\}$/;

export interface ParserProblem {
  message: string;
  /** The field the parser's ConfigError names, when it names one. */
  field?: string;
}

/** What the runtime parser says about a saved node, unless a field's value is only known at deploy. */
export function parserProblems(type: string, node: FlowNode): ParserProblem[] {
  const entry = SCHEMAS[type];
  if (!entry?.parse) return [];
  if (Object.values(node).some((v) => typeof v === "string" && WHOLE_ENV.test(v.trim()))) return [];
  try {
    entry.parse(node);
    return [];
  } catch (err) {
    const field = (err as { detail?: { field?: unknown } }).detail?.field;
    return [{ message: (err as Error).message, ...(typeof field === "string" ? { field } : {}) }];
  }
}

