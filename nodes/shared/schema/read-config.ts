/**
 * Runtime and lint side of a schema: migrate a saved node to the current version, find every
 * field problem (lint reports them all), or read the typed config (the runtime refuses the
 * first problem with a ConfigError that names the field).
 */
import { ConfigError } from "../errors";
import { fieldProblem } from "./field-problem";
import type { ConfigOf, FieldSpec, NodeSchema } from "./field-spec";

/** The saved node brought to the schema's version by its migrations (a copy; the input is left alone). */
export function migrate(schema: NodeSchema, saved: Record<string, unknown>): Record<string, unknown> {
  let def: Record<string, unknown> = { ...saved };
  const from = Number(def.version) || 1;
  for (const step of schema.migrations ?? []) if (step.to > from) def = step.up(def);
  return def;
}

/**
 * A `ref` field's value that is the node's own setting, not a config node id (the spec's
 * legacyValue): the runner does not look it up, lint does not ask for the config node, and the
 * editor's generated validator (editor-script.ts) tests the same expression on the same text.
 */
export function isLegacyRefValue(spec: FieldSpec, value: unknown): boolean {
  return spec.kind === "ref" && !!spec.legacyValue && new RegExp(spec.legacyValue).test(String(value ?? ""));
}

/** The value a field has in a (migrated) saved node: a field the flow leaves out takes its default. */
export function rawValue(spec: FieldSpec, def: Record<string, unknown>, name: string): unknown {
  return name in def ? def[name] : spec.default;
}

export interface FieldProblem {
  field: string;
  message: string;
}

/** Every field problem of a saved node, in field order (after migration). */
export function schemaProblems(schema: NodeSchema, saved: Record<string, unknown>): FieldProblem[] {
  const def = migrate(schema, saved);
  const node = withDefaults(schema, def);
  const out: FieldProblem[] = [];
  for (const [name, spec] of Object.entries(schema.fields)) {
    const message = fieldProblem(name, spec, node[name], node, schema.checks ?? {});
    if (message) out.push({ field: name, message });
  }
  return out;
}

/** The typed configuration, or a ConfigError naming the first field that is wrong. */
export function readConfig<S extends NodeSchema>(schema: S, saved: Record<string, unknown>): ConfigOf<S> {
  const problems = schemaProblems(schema, saved);
  if (problems.length > 0) throw new ConfigError(problems[0]!.message, { field: problems[0]!.field, problems });
  const node = withDefaults(schema, migrate(schema, saved));
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema.fields)) out[name] = coerce(name, spec, node[name]);
  return out as ConfigOf<S>;
}

function withDefaults(schema: NodeSchema, def: Record<string, unknown>): Record<string, unknown> {
  const node: Record<string, unknown> = { ...def };
  for (const [name, spec] of Object.entries(schema.fields)) node[name] = rawValue(spec, def, name);
  return node;
}

/** A checked raw value as its typed value; a blank optional field takes its default. */
function coerce(name: string, spec: FieldSpec, value: unknown): unknown {
  const blank = value === undefined || value === null || (typeof value === "string" && value.trim() === "");
  switch (spec.kind) {
    case "number":
      if (blank) return spec.default === "" ? NaN : Number(spec.default);
      return typeof value === "number" ? value : Number(String(value).trim());
    case "boolean":
      return blank ? Boolean(spec.default) : value === true || value === "true";
    case "json":
      if (blank) return spec.default;
      if (typeof value !== "string") return value;
      try {
        return JSON.parse(value);
      } catch (err) {
        // Only a ${VAR} whose value is not JSON gets here (fieldProblem parsed the rest).
        throw new ConfigError(`${name} is not valid JSON (${(err as Error).message})`, { field: name });
      }
    default:
      return blank ? String(spec.default ?? "") : String(value).trim();
  }
}
