/**
 * node-config: every otb node's config against its schema (nodes/<type>/schema.ts): (1) each
 * field's check, the same function the editor and the runtime run, and (2) once the fields hold,
 * the node's own runtime parser (node-schemas.ts). Config-node references are missing-config's job.
 */
import { FIELD_CANDIDATES } from "./contract-fields";
import { OTB_TYPES } from "./known-types";
import type { Rule } from "./lint-types";
import { editorDef } from "./node-defs";
import { parserProblems } from "./node-schemas";

const ENV_REF = /^\$\{[^}]+\}$/;

/**
 * Fields whose editor validators restate a contract rule (zones, TLS, MQTT 5, verification):
 * the contract rule reports them, once, with the rule id a repo can configure.
 */
const CONTRACT_FIELDS: Record<string, ReadonlySet<string>> = {
  "otb-conduit": new Set([
    ...FIELD_CANDIDATES.conduitSourceZone, ...FIELD_CANDIDATES.conduitTargetZone, ...FIELD_CANDIDATES.conduitProtocol,
    ...FIELD_CANDIDATES.conduitVerify, ...FIELD_CANDIDATES.conduitBroker,
  ]),
};

export const nodeConfig: Rule = {
  id: "node-config",
  description: "an otb node's config fails its editor validation or its per-type schema",
  severity: "error",
  check({ flow, report }) {
    for (const node of flow.nodes) {
      if (!OTB_TYPES.has(node.type)) continue;
      const def = editorDef(node.type);
      let editorProblems = 0;
      const say = (message: string): void => {
        editorProblems++;
        report(node, message);
      };
      for (const [field, spec] of Object.entries(def?.defaults ?? {})) {
        if (spec.type) continue;
        // Like the editor's import: a field the flow leaves out takes the editor's default.
        const value = field in node ? node[field] : spec.value;
        const blank = value === undefined || value === null || value === "";
        if (spec.required && blank) {
          say(`"${field}" is required`);
          continue;
        }
        // The editor accepts a whole ${ENV_VAR} in any field; so does lint.
        if (!spec.validate || (typeof value === "string" && ENV_REF.test(value.trim()))) continue;
        if (CONTRACT_FIELDS[node.type]?.has(field)) continue;
        // The schema's check names the field and the value.
        const verdict = spec.validate.call({ ...defaultsOf(def!.defaults), ...node }, value, {});
        if (typeof verdict === "string") say(verdict);
      }
      // The runtime parser assumes the fields hold, so it runs once they pass.
      if (editorProblems > 0) continue;
      for (const problem of parserProblems(node.type, node)) report(node, problem);
    }
  },
};

function defaultsOf(defaults: Record<string, { value?: unknown }>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(defaults)) out[k] = f.value;
  return out;
}
