/**
 * The editor half of a schema, written into the node's .html by the build in place of the line
 * "// otb:schema": `var otbSchema = {defaults, credentials, version}` where every validator calls
 * the same fieldProblem the runtime and lint call, and the schema's checks, copied as source.
 */
import { fieldProblem } from "./field-problem";
import type { NodeSchema } from "./field-spec";

export function editorScript(schema: NodeSchema): string {
  const checks = Object.entries(schema.checks ?? {})
    .map(([name, fn]) => `    ${JSON.stringify(name)}: ${checkSource(name, fn)}`)
    .join(",\n");
  return [
    `var otbSchema = (function () {`,
    `  var fieldProblem = ${fieldProblem.toString()};`,
    `  var checks = {\n${checks}\n  };`,
    `  var fields = ${scriptJson(editorFields(schema))};`,
    `  var defaults = { version: { value: ${schema.version} } };`,
    // While the edit dialog is open Node-RED validates against the saved node; a check that
    // compares fields (hop <= length) must see what the form says now.
    `  function live(node) {`,
    `    if (typeof $ !== "function") return node;`,
    `    var view = {};`,
    `    Object.keys(node).forEach(function (k) { view[k] = node[k]; });`,
    `    Object.keys(fields).forEach(function (k) {`,
    `      var el = $("#node-input-" + k + ", #node-config-input-" + k);`,
    `      if (el.length) view[k] = el.is(":checkbox") ? el.prop("checked") : el.val();`,
    `    });`,
    `    return view;`,
    `  }`,
    `  Object.keys(fields).forEach(function (name) {`,
    `    var spec = fields[name];`,
    `    var d = { value: spec.default };`,
    // Node-RED checks a config-node reference itself (the node exists and is valid), but only
    // when the field has no validator of its own (validateNodeProperty in the editor). A ref with
    // a legacyValue (a flow saved before its config node type existed holds the setting itself,
    // which the runtime and lint accept) needs one: that value, or a valid node of the type.
    `    if (spec.kind === "ref") {`,
    `      d.type = spec.configType; d.required = !!spec.required;`,
    `      if (spec.legacyValue) d.validate = legacyRef(name, spec);`,
    `    }`,
    `    else d.validate = function (v) { var p = fieldProblem(name, spec, v, live(this || {}), checks); return p === null ? true : p; };`,
    `    defaults[name] = d;`,
    `  });`,
    `  function legacyRef(name, spec) {`,
    `    var legacy = new RegExp(spec.legacyValue);`,
    `    return function (v) {`,
    `      if (legacy.test(String(v == null ? "" : v))) return true;`,
    `      var c = v && typeof RED !== "undefined" ? RED.nodes.node(v) : null;`,
    `      if (c && c.type === spec.configType && c.valid !== false) return true;`,
    `      return name + " must name a valid " + spec.configType + " node: select one, or add one with the pencil button";`,
    `    };`,
    `  }`,
    `  return { defaults: defaults, credentials: ${scriptJson(schema.credentials ?? {})}, version: ${schema.version}, fields: fields };`,
    `})();`,
  ].join("\n");
}

function checkSource(name: string, fn: (...args: never[]) => unknown): string {
  const src = fn.toString();
  // Arrow functions and function expressions are expressions; a method shorthand is not.
  if (!/^(async\s+)?(function\b|\(|[A-Za-z_$][\w$]*\s*=>)/.test(src)) throw new Error(`check ${name} must be an arrow function or function expression to be copied into the editor`);
  return src;
}

/** The field specs the editor needs (test samples left out). */
function editorFields(schema: NodeSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema.fields)) {
    const { samples: _samples, ...rest } = spec;
    out[name] = rest;
  }
  return out;
}

/** JSON that cannot end the <script> element it sits in. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}
