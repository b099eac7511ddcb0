/**
 * The one check of one configuration field, run by the runtime (readConfig), by `otbridge lint`
 * and, copied as source by the build, by the editor's validators: the same compiled function in
 * all three places, so they cannot disagree.
 *
 * It must stay self-contained (no imports, no references outside its own body, ES2022 only):
 * the build serialises it with Function.prototype.toString and the editor runs it in the
 * browser. test/shared/node-schemas.test.ts runs the serialised copy in an empty `vm` context.
 */
import type { FieldSpec, FieldCheck } from "./field-spec";

export function fieldProblem(
  name: string,
  spec: FieldSpec,
  value: unknown,
  node: Record<string, unknown>,
  checks: Record<string, FieldCheck>,
): string | null {
  const blank = value === undefined || value === null || (typeof value === "string" && value.trim() === "");
  if (blank && spec.required) return `${name} is required`;
  if (blank && !spec.checkBlank) return null;
  // Node-RED replaces a whole "${VAR}" with the environment variable's value when the flow starts
  // (flowUtil.evaluateEnvProperties); editor and lint cannot know it, the runtime sees the value.
  if (typeof value === "string" && spec.env !== false && /^\$\{[^}]+\}$/.test(value.trim())) return null;
  switch (blank ? "blank" : spec.kind) {
    case "number": {
      if (typeof value !== "number" && typeof value !== "string") return `${name} must be a number`;
      const n = typeof value === "number" ? value : Number(value.trim());
      if (!Number.isFinite(n)) return `${name} must be a number (got "${String(value)}")`;
      if (spec.integer && !Number.isInteger(n)) return `${name} must be a whole number (got ${n})`;
      if (spec.min !== undefined && n < spec.min) return `${name} must be at least ${spec.min} (got ${n})`;
      if (spec.max !== undefined && n > spec.max) return `${name} must be at most ${spec.max} (got ${n})`;
      break;
    }
    case "boolean":
      if (value !== true && value !== false && value !== "true" && value !== "false") return `${name} must be true or false`;
      break;
    case "enum":
      if (typeof value !== "string") return `${name} must be one of ${(spec.values ?? []).join(", ")}`;
      if (!(spec.values ?? []).includes(String(value))) return `${name} "${String(value)}" is not one of ${(spec.values ?? []).join(", ")}`;
      break;
    case "json": {
      let parsed: unknown = value;
      if (typeof value === "string") {
        try {
          parsed = JSON.parse(value);
        } catch (err) {
          return `${name} is not valid JSON (${(err as Error).message})`;
        }
      }
      if (spec.json === "array" && !Array.isArray(parsed)) return `${name} must be a list`;
      if (spec.json === "object" && (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))) return `${name} must be an object`;
      break;
    }
    case "text":
    case "ref":
      if (typeof value !== "string" && typeof value !== "number") return `${name} must be text`;
      if (spec.pattern && !new RegExp(spec.pattern).test(String(value))) return `${name} "${String(value)}" ${spec.patternMessage ?? "has the wrong form"}`;
      break;
  }
  if (spec.check) {
    const check = checks[spec.check];
    if (!check) return `${name}: no check named ${spec.check}`;
    const problem = check(value, node, spec, checks);
    if (problem) return `${name} ${problem}`;
  }
  return null;
}
