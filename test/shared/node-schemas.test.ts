/**
 * Issue 16: editor, runtime and lint agree on every field of every node that has a schema. For
 * each field, valid and invalid samples are derived from the field's spec (bounds, enum members,
 * blanks, ${VAR}s, the spec's own samples); each sample is put into an otherwise valid node and
 * judged three ways: the editor's validator as the build writes it into the .html (run in an
 * empty `vm` context, as a browser would run it), the runtime's readConfig, and `otbridge lint`.
 * All three must accept it, or all three refuse it with the same sentence.
 */
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as vm from "vm";
import { lintFlow, loadSettings } from "../../cli/flows/lint";
import { parseFlow } from "../../cli/flows/flow-file";
import { SCHEMAS } from "../../cli/flows/node-schemas";
import { editorScript } from "../../nodes/shared/schema/editor-script";
import { fieldProblem, isLegacyRefValue, readConfig, type FieldSpec, type NodeSchema } from "../../nodes/shared/schema";
import { REPO } from "../cli-flows/cli-run";

type Verdict = string | null;

/**
 * Samples whose verdict the field's spec decides alone (valid / invalid), and members of an enum
 * or boolean whose verdict may depend on other fields (a check such as "a file is needed when the
 * source is file"): for those only the three judges' agreement is asserted.
 */
function samples(spec: FieldSpec, baseValue: unknown): { valid: unknown[]; invalid: unknown[]; either: unknown[] } {
  const either: unknown[] = [];
  const valid: unknown[] = [...(spec.samples?.valid ?? [])];
  const invalid: unknown[] = [...(spec.samples?.invalid ?? [])];
  // The default and a blank are valid unless the field's check says otherwise in the base node.
  if (baseValue === spec.default) valid.push(spec.default);
  if (spec.required) invalid.push("");
  else if (baseValue === spec.default) valid.push("");
  if (spec.env !== false) valid.push("${OTB_SAMPLE}");
  switch (spec.kind) {
    case "number":
      invalid.push("twelve", "1e", {});
      if (spec.min !== undefined) valid.push(spec.min, String(spec.min)), invalid.push(spec.min - 1);
      if (spec.max !== undefined) valid.push(spec.max), invalid.push(spec.max + 1);
      if (spec.integer) invalid.push((spec.min ?? 0) + 0.5);
      break;
    case "boolean":
      (spec.check ? either : valid).push(true, false, "true", "false");
      invalid.push("yes", 1);
      break;
    case "enum":
      (spec.check ? either : valid).push(...(spec.values ?? []));
      invalid.push("not-a-member");
      break;
    case "json":
      invalid.push("{ nope");
      if (spec.json === "array") invalid.push("{}");
      if (spec.json === "array" && baseValue === spec.default && Array.isArray(spec.default) && spec.default.length === 0) valid.push("[]");
      break;
    default:
      break;
  }
  return { valid, invalid, either };
}

/** A node with every field valid: defaults, or the first valid sample where the default is blank and required. */
function baseNode(schema: NodeSchema): Record<string, unknown> {
  const node: Record<string, unknown> = { id: "n1", type: schema.type, name: "sample", x: 1, y: 1, z: "t" };
  for (const [name, spec] of Object.entries(schema.fields)) if (spec.kind !== "ref") node[name] = spec.default;
  // A required config-node reference names some node (whether it exists is missing-config's to say).
  for (const [name, spec] of Object.entries(schema.fields)) if (spec.kind === "ref" && spec.required) node[name] = `cfg-${name}`;
  for (const [name, spec] of Object.entries(schema.fields)) {
    if (spec.kind === "ref" || fieldProblem(name, spec, node[name], node, schema.checks ?? {}) === null) continue;
    const v = spec.samples?.valid?.[0];
    if (v === undefined) throw new Error(`${schema.type}.${name}: its default is not valid on its own; give it samples.valid`);
    node[name] = v;
  }
  // Fields whose need depends on other fields are the runtime parser's: a field it names takes its first valid sample.
  for (let tries = 0; tries < Object.keys(schema.fields).length; tries++) {
    try {
      SCHEMAS[schema.type]?.parse?.(node);
      break;
    } catch (err) {
      const name = ((err as { detail?: { field?: string } }).detail ?? {}).field;
      const v = name ? schema.fields[name]?.samples?.valid?.[0] : undefined;
      if (!name || v === undefined || node[name] === v) throw new Error(`${schema.type}: the base node fails its parser: ${(err as Error).message}`);
      node[name] = v;
    }
  }
  return node;
}

function editorValidators(schema: NodeSchema, editorGlobals: Record<string, unknown> = {}): Record<string, { validate?: (this: unknown, v: unknown) => unknown }> {
  // Empty but for what every browser has that a check uses (otb-publish measures a topic's UTF-8 bytes).
  const sandbox = vm.createContext({ TextEncoder, ...editorGlobals });
  vm.runInContext(`${editorScript(schema)}\nthis.result = otbSchema;`, sandbox);
  return (sandbox as { result: { defaults: Record<string, { validate?: (v: unknown) => unknown }> } }).result.defaults;
}

describe("node schemas: editor, runtime and lint agree", () => {
  // Lint's schema rule on its own: a contract rule that finds the same field wrong (conduit-zones,
  // model-pinned...) takes its place in a full run, one finding per cause (test/cli-flows/lint.test.ts).
  const all = loadSettings(REPO, undefined);
  const settings = { ...all, rules: Object.fromEntries(Object.keys(all.rules).map((id) => [id, id === "node-config" ? "error" : "off"] as const)) };

  it("every node with a schema has its generated validators in the built editor file", () => {
    for (const [type, { schema }] of Object.entries(SCHEMAS)) {
      const html = fs.readFileSync(path.join(REPO, "dist", "nodes", type, `${type}.html`), "utf8");
      assert.ok(html.includes(editorScript(schema)), `${type}.html carries the script generated from its schema`);
      assert.ok(!/\/\/ otb:schema/.test(html), `${type}.html has no unfilled marker`);
    }
  });

  for (const [type, { schema }] of Object.entries(SCHEMAS)) {
    it(`${type}: every field, valid and invalid samples`, () => {
      const editor = editorValidators(schema);
      const base = baseNode(schema);
      assert.equal(readConfig(schema, base) !== null, true, "the base node is valid");
      let count = 0;
      for (const [field, spec] of Object.entries(schema.fields)) {
        if (spec.kind === "ref") continue;
        const { valid, invalid, either } = samples(spec, base[field]);
        const judged: Array<readonly [unknown, boolean | null]> = [...valid.map((v) => [v, true] as const), ...invalid.map((v) => [v, false] as const), ...either.map((v) => [v, null] as const)];
        for (const [sample, expectValid] of judged) {
          const node = { ...base, [field]: sample };
          const what = `${type}.${field} = ${JSON.stringify(sample)}`;
          const e = editor[field]!.validate!.call(node, sample);
          const editorVerdict: Verdict = e === true ? null : String(e);
          let runtimeVerdict: Verdict = null;
          try {
            readConfig(schema, node);
          } catch (err) {
            runtimeVerdict = (err as Error).message;
          }
          const lint = lintFlow(parseFlow(JSON.stringify([{ id: "t", type: "tab" }, node]), "sample.json"), settings).filter((f) => f.rule === "node-config" && f.message.startsWith(field));
          const lintVerdict: Verdict = lint[0]?.message ?? null;
          if (expectValid !== null) assert.equal(editorVerdict === null, expectValid, `${what}: editor says ${editorVerdict ?? "valid"}`);
          // Node-RED resolves a whole ${VAR} before the node starts: the runtime never sees one.
          if (sample !== "${OTB_SAMPLE}") assert.equal(runtimeVerdict, editorVerdict, `${what}: runtime and editor`);
          assert.equal(lintVerdict, editorVerdict, `${what}: lint and editor`);
          count++;
        }
      }
      assert.ok(count >= Object.keys(schema.fields).length, `${count} samples judged`);
    });
  }
});

/**
 * A `ref` field with a legacyValue (otb-mqtt-in's `broker`: a flow saved before otb-mqtt-broker
 * holds the URL itself): the editor's validator is generated from the schema (editor-script.ts),
 * not written by hand in the .html. The editor (with a stand-in for the editor's node registry,
 * RED.nodes.node), the runtime's runner (isLegacyRefValue, as define-node.ts calls it) and lint's
 * missing-config rule take the same values as the node's own setting, and want a valid config
 * node of the field's type for every other value.
 */
describe("ref fields with a legacy value: editor, runtime and lint agree", () => {
  const settings = loadSettings(REPO, undefined);
  const refs = Object.values(SCHEMAS).flatMap(({ schema }) =>
    Object.entries(schema.fields).filter(([, spec]) => spec.kind === "ref" && spec.legacyValue).map(([name, spec]) => ({ schema, name, spec })));

  it("otb-mqtt-in's broker is one, and its .html has no hand-written validator left", () => {
    assert.ok(refs.some((r) => r.schema.type === "otb-mqtt-in" && r.name === "broker"));
    const html = fs.readFileSync(path.join(REPO, "nodes", "otb-mqtt-in", "otb-mqtt-in.html"), "utf8");
    assert.ok(!/defaults\.broker\.validate/.test(html), "otb-mqtt-in.html sets no validator of its own on broker");
  });

  for (const { schema, name, spec } of refs) {
    it(`${schema.type}.${name}: legacy values are the node's own, other values must name a valid ${spec.configType}`, () => {
      const configType = spec.configType!;
      const inEditor: Record<string, { id: string; type: string; valid: boolean }> = {
        good: { id: "good", type: configType, valid: true },
        broken: { id: "broken", type: configType, valid: false },
        other: { id: "other", type: "otb-line", valid: true },
      };
      const validate = editorValidators(schema, { RED: { nodes: { node: (id: string) => inEditor[id] ?? null } } })[name]?.validate;
      assert.ok(validate, "the generated defaults carry a validator for the field");
      const base = baseNode(schema);
      const lintOf = (value: unknown, extra: unknown[] = []): string[] =>
        lintFlow(parseFlow(JSON.stringify([{ id: "t", type: "tab" }, { ...base, [name]: value }, ...extra]), "sample.json"), settings)
          .filter((f) => f.node === base.id && f.rule === "missing-config").map((f) => f.message);
      const refused = new RegExp(`^${name} must name a valid ${configType} node`);
      const legacy = spec.samples?.valid ?? [];
      const ids = spec.samples?.invalid ?? [];
      assert.ok(legacy.length > 0 && ids.length > 0, "samples: legacy values (valid) and id-like values (invalid)");
      for (const v of legacy) {
        const what = `${name} = ${JSON.stringify(v)}`;
        assert.equal(validate.call({ ...base, [name]: v }, v), true, `${what}: editor`);
        assert.equal(isLegacyRefValue(spec, v), true, `${what}: runtime`);
        assert.deepEqual(lintOf(v), [], `${what}: lint`);
      }
      for (const v of ids) {
        const what = `${name} = ${JSON.stringify(v)}`;
        assert.match(String(validate.call({ ...base, [name]: v }, v)), refused, `${what}: editor`);
        assert.equal(isLegacyRefValue(spec, v), false, `${what}: runtime looks it up (and finds no such node)`);
        assert.deepEqual(lintOf(v), [`"${name}" refers to ${configType} ${String(v)}, which is not in this file`], `${what}: lint`);
      }
      // A config node of the type is what a migrated flow holds; a broken one or another type is refused.
      assert.equal(validate.call(base, "good"), true);
      assert.match(String(validate.call(base, "broken")), refused);
      assert.match(String(validate.call(base, "other")), refused);
      assert.deepEqual(lintOf("good", [{ id: "good", type: configType }]), []);
      assert.deepEqual(lintOf("other", [{ id: "other", type: "otb-line" }]), [`"${name}" refers to otb-line other, expected a ${configType}`]);
    });
  }
});
