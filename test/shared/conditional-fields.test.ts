/**
 * Fields one choice requires (issue 16 follow-up): the select reports what its choice lacks and
 * the needed field turns red, in the editor (the validators the build writes into the .html, run
 * with the form's values as `this`) and at runtime (readConfig, the first problem in field order),
 * as the hand validators did before the schemas; and flows saved before keep loading unchanged.
 */
import * as assert from "node:assert/strict";
import * as vm from "vm";
import { SCHEMAS } from "../../cli/flows/node-schemas";
import { editorScript } from "../../nodes/shared/schema/editor-script";
import { readConfig } from "../../nodes/shared/schema";

type Validators = Record<string, { validate?: (this: unknown, v: unknown) => unknown }>;

function editor(type: string): Validators {
  // Empty but for what every browser has that a check uses (otb-publish measures a topic's UTF-8 bytes).
  const sandbox = vm.createContext({ TextEncoder });
  vm.runInContext(`${editorScript(SCHEMAS[type]!.schema)}\nthis.result = otbSchema;`, sandbox);
  return (sandbox as { result: { defaults: Validators } }).result.defaults;
}

/** The editor's verdict on each field of `form` that is red (its message), the others left out. */
function red(type: string, form: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(editor(type))) {
    const e = v.validate?.call(form, form[name] ?? SCHEMAS[type]!.schema.fields[name]!.default);
    if (e !== true && e !== undefined) out[name] = String(e);
  }
  return out;
}

function runtime(type: string, node: Record<string, unknown>): string | null {
  try {
    readConfig(SCHEMAS[type]!.schema, node);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

const cases: Array<{ type: string; base: Record<string, unknown>; choice: Record<string, unknown>; needs: Record<string, unknown>; red: Record<string, RegExp> }> = [
  { type: "otb-validate", base: {}, choice: { rulesFrom: "file" }, needs: { catalogFile: "catalog.json" },
    red: { rulesFrom: /^rulesFrom "file" needs catalogFile/, catalogFile: /^catalogFile is required when rules come from a file$/ } },
  { type: "otb-context", base: { line: "l" }, choice: { modeSource: "state" }, needs: { modeTag: "line1.state" },
    red: { modeSource: /^modeSource "state" needs modeTag/, modeTag: /^modeTag is required: the state mode needs the tag it reads$/ } },
  { type: "otb-context", base: { line: "l" }, choice: { modeSource: "threshold", modeTag: "line1.speed" }, needs: { threshold: 10 },
    red: { modeSource: /^modeSource "threshold" needs a threshold/, threshold: /^threshold is required: the threshold mode/ } },
  { type: "otb-oee", base: { line: "l", totalTag: "t", rejectTag: "r" }, choice: { stateFrom: "tag" }, needs: { stateTag: "line1.state" },
    red: { stateFrom: /^stateFrom "tag" needs stateTag/, stateTag: /^stateTag is required when the state comes from a tag$/ } },
  { type: "otb-oee", base: { line: "l", totalTag: "t", rejectTag: "" }, choice: { counting: "good-reject" }, needs: { goodTag: "g", rejectTag: "r" },
    red: { counting: /^counting "good-reject" needs goodTag and rejectTag/, goodTag: /^goodTag is required: counting "good-reject" needs the good counter$/, rejectTag: /^rejectTag is required/ } },
  { type: "otb-spc", base: { tag: "filler.volume" }, choice: { source: "file" }, needs: { catalogFile: "spc.json" },
    red: { source: /^source "file" needs catalogFile/, catalogFile: /^catalogFile is required when characteristics come from a file$/ } },
  { type: "otb-spc", base: { source: "file", catalogFile: "spc.json" }, choice: { source: "form" }, needs: { tag: "filler.volume" },
    red: { source: /^source "form" needs a tag/, tag: /^tag is required for a characteristic from this form$/ } },
  // A choice that constrains a field it does not make required: the select carries the field's verdict.
  { type: "otb-window", base: { windowName: "w", features: [{ tag: "a", agg: "mean" }], length: 10, hop: 20 }, choice: { mode: "sliding" }, needs: { hop: 5 },
    red: { mode: /^mode "sliding" needs a valid hop: hop \(20 s\) must not be longer than the length \(10 s\)$/, hop: /^hop \(20 s\) must not be longer than the length \(10 s\)$/ } },
  { type: "otb-window", base: { windowName: "w", features: [{ tag: "a", agg: "mean" }], length: 10, hop: 0 }, choice: { mode: "sliding" }, needs: { hop: 10 },
    red: { mode: /^mode "sliding" needs a valid hop: hop must be more than 0 seconds$/, hop: /^hop must be more than 0 seconds$/ } },
  { type: "otb-publish", base: { conduit: "c", template: "a/#" }, choice: { topicMode: "template" }, needs: { template: "{site}/{line}/{tag}" },
    red: { topicMode: /^topicMode "template" needs a safe template: template "a\/#" is not a safe topic/, template: /^template "a\/#" is not a safe topic/ } },
  { type: "otb-publish", base: { conduit: "c", template: "" }, choice: { topicMode: "template" }, needs: { template: "{site}/{tag}" },
    red: { topicMode: /^topicMode "template" needs a safe template: template "" is not a safe topic/, template: /^template "" is not a safe topic/ } },
];

describe("fields a choice requires: editor and runtime", () => {
  for (const c of cases) {
    const what = `${c.type} ${JSON.stringify(c.choice)}`;
    it(`${what}: the select and ${Object.keys(c.needs).join(", ")} turn red; filled, the node is valid`, () => {
      const valid = { ...c.base, ...c.needs };
      assert.deepEqual(red(c.type, { ...c.base, ...c.needs }), {}, "the base with what the choice needs is valid in the editor");
      const lacking = { ...c.base, ...c.choice };
      const marks = red(c.type, lacking);
      assert.deepEqual(Object.keys(marks).sort(), Object.keys(c.red).sort(), `${what}: red fields ${JSON.stringify(marks)}`);
      for (const [name, re] of Object.entries(c.red)) assert.match(marks[name]!, re);
      // The runtime refuses with the first problem in field order: the select's, which the editor shows on it.
      const selectName = Object.keys(c.choice)[0]!;
      assert.equal(runtime(c.type, lacking), marks[selectName]);
      assert.equal(runtime(c.type, { ...valid, ...c.choice }), null, `${what} with what it needs runs`);
    });
  }

  it("the other choices need none of those fields (a flow saved before, with them blank, loads)", () => {
    assert.equal(runtime("otb-validate", { rulesFrom: "table", catalogFile: "" }), null);
    assert.equal(runtime("otb-context", { line: "l", modeSource: "none", modeTag: "", threshold: "" }), null);
    assert.equal(runtime("otb-context", { line: "l", modeSource: "state", modeTag: "s", threshold: "" }), null);
    assert.equal(runtime("otb-oee", { line: "l", stateFrom: "context", stateTag: "", counting: "total-good", totalTag: "t", goodTag: "g", rejectTag: "" }), null);
    assert.equal(runtime("otb-spc", { source: "file", catalogFile: "spc.json", tag: "" }), null);
    assert.equal(runtime("otb-window", { windowName: "w", features: ["a:mean"], mode: "tumbling", length: 10, hop: 20 }), null);
    assert.equal(runtime("otb-window", { windowName: "w", features: ["a:mean"], mode: "sliding", length: 10, hop: "${OTB_HOP}" }), null);
    assert.equal(runtime("otb-publish", { conduit: "c", topicMode: "uns", template: "a/#" }), null);
    assert.equal(runtime("otb-publish", { conduit: "c", topicMode: "template", template: "${OTB_TEMPLATE}" }), null);
    // A flow that leaves the fields out takes the defaults: counting total-reject needs its two tags.
    assert.match(String(runtime("otb-oee", { line: "l" })), /^counting "total-reject" needs totalTag and rejectTag/);
  });
});
