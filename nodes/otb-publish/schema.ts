/** otb-publish's configuration: the one definition editor, runtime and lint read (issue 16). */
import { defineSchema, field, type FieldCheck } from "../shared/schema";

/**
 * A topic template yields a safe topic whatever safe values fill its placeholders: no + # NUL,
 * no empty or $ level, no stray brace, at most 65,535 bytes (MQTT 5 §1.5.4). The same rule as
 * isValidTemplate() in publish-logic.ts, which the runtime runs; read only in template mode.
 */
const template: FieldCheck = (value, node) => {
  if (node.topicMode !== "template") return null;
  const placeholder = /\{(enterprise|site|area|line|cell|asset|tag|name|kind)\}/g;
  const s = String(value).trim();
  const filled = s.replace(placeholder, "x");
  const ok = s !== "" && !/[{}+#\u0000]/.test(filled) && new TextEncoder().encode(filled).length <= 65_535 && filled.split("/").every((l) => l !== "" && l[0] !== "$");
  return ok ? null : `"${s}" is not a safe topic: use {enterprise} {site} {area} {line} {cell} {asset} {tag} {name} {kind} placeholders, no + # or empty or $ level`;
};

/**
 * The select carries the template's verdict too: choosing "template" re-judges the template in
 * the editor, and the runtime and lint name the choice (the first problem in field order).
 */
const topicModeNeeds: FieldCheck = (value, node, spec, checks) => {
  const t = String(node.template ?? "").trim();
  if (value !== "template" || /^\$\{[^}]+\}$/.test(t) || !checks.template) return null;
  const problem = checks.template(node.template ?? "", node, spec, checks);
  return problem ? `"template" needs a safe template: template ${problem}` : null;
};

export const schema = defineSchema({
  type: "otb-publish",
  version: 1,
  fields: {
    name: field.text(),
    topicMode: field.oneOf(["uns", "template"] as const, "uns", { check: "topicModeNeeds" }),
    template: field.text({ default: "{enterprise}/{site}/{area}/{line}/{tag}", check: "template", checkBlank: true }),
    /** Report by exception: send only changes. */
    rbe: field.boolean(false),
    /** A numeric change of at most this much is not sent (0: only equal values). */
    deadband: field.number(0, { min: 0, samples: { invalid: [-1] } }),
    conduit: field.ref("otb-conduit", { required: true }),
    /** The line whose identity fills topics of messages that carry no context. */
    line: field.ref("otb-line"),
  },
  checks: { template, topicModeNeeds },
});
