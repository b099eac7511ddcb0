/**
 * node-config: every otb node's config against its schema (nodes/<type>/schema.ts): (1) each
 * field's check, the same function the editor and the runtime run, and (2) once the fields hold,
 * the node's own runtime parser (node-schemas.ts). Config-node references are missing-config's job.
 * Each finding names its field, so that a contract rule's finding on the same field is not a second
 * one (lint.ts); a choice and the field it needs are one finding (oneCauseEach).
 */
import type { FlowNode } from "./flow-file";
import { OTB_TYPES } from "./known-types";
import type { Rule } from "./lint-types";
import { editorDef, type NodeTypeDef } from "./node-defs";
import { parserProblems, SCHEMAS } from "./node-schemas";

const ENV_REF = /^\$\{[^}]+\}$/;

interface Problem {
  field: string;
  message: string;
}

export const nodeConfig: Rule = {
  id: "node-config",
  description: "an otb node's config fails its editor validation or its per-type schema",
  severity: "error",
  check({ flow, report }) {
    for (const node of flow.nodes) {
      if (!OTB_TYPES.has(node.type)) continue;
      const def = editorDef(node.type);
      if (!def) continue;
      const problems = fieldProblems(def, node);
      for (const { field, message } of oneCauseEach(def, node, problems)) report(node, message, { field });
      // The runtime parser assumes the fields hold, so it runs once they pass.
      if (problems.length > 0) continue;
      for (const { field, message } of parserProblems(node.type, node)) report(node, message, field ? { field } : {});
    }
  },
};

/** Each field's verdict as the editor gives it, with the form's values (`over` replaces some). */
function fieldProblems(def: NodeTypeDef, node: FlowNode, over: Record<string, unknown> = {}): Problem[] {
  const form = { ...defaultsOf(def.defaults), ...node, ...over };
  const out: Problem[] = [];
  for (const [field, spec] of Object.entries(def.defaults)) {
    if (spec.type) continue;
    // Like the editor's import: a field the flow leaves out takes the editor's default.
    const value = field in node || field in over ? form[field] : spec.value;
    const blank = value === undefined || value === null || value === "";
    if (spec.required && blank) {
      out.push({ field, message: `"${field}" is required` });
      continue;
    }
    // The editor accepts a whole ${ENV_VAR} in any field; so does lint.
    if (!spec.validate || (typeof value === "string" && ENV_REF.test(value.trim()))) continue;
    // The schema's check names the field and the value.
    const verdict = spec.validate.call(form, value, {});
    if (typeof verdict === "string") out.push({ field, message: verdict });
  }
  return out;
}

/**
 * A choice (a select or a checkbox) and a later field it makes required or constrains are both
 * wrong for one cause: "counting \"good-reject\" needs goodTag" and "goodTag is required". The
 * later field's problem is the choice's when another value of the choice makes it go away; the
 * choice's message, which names what it needs (and is what the runtime reports: the first
 * problem in field order), stays.
 */
function oneCauseEach(def: NodeTypeDef, node: FlowNode, problems: Problem[]): Problem[] {
  const fields = SCHEMAS[node.type]?.schema.fields ?? {};
  const names = Object.keys(fields);
  const wrong = new Set(problems.map((p) => p.field));
  const folded = new Set<string>();
  for (const choice of names) {
    const spec = fields[choice];
    if (!spec || !wrong.has(choice) || folded.has(choice)) continue;
    const current = choice in node ? node[choice] : spec.default;
    // A select (an enum, or a text field offered as a list such as a conduit's zones) or a checkbox.
    const choices = spec.kind === "boolean" ? [true, false] : spec.kind === "enum" || spec.kind === "text" ? (spec.values ?? []) : [];
    const others = choices.filter((v) => String(v) !== String(current));
    if (others.length === 0) continue;
    const later = problems.filter((p) => names.indexOf(p.field) > names.indexOf(choice) && !folded.has(p.field));
    for (const p of later) {
      if (others.some((v) => !fieldProblems(def, node, { [choice]: v }).some((q) => q.field === p.field))) folded.add(p.field);
    }
  }
  return problems.filter((p) => !folded.has(p.field));
}

function defaultsOf(defaults: Record<string, { value?: unknown }>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(defaults)) out[k] = f.value;
  return out;
}
