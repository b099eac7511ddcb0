/**
 * What lint knows about each otb node type's fields, from the node's schema module
 * (nodes/<type>/schema.ts, registered in node-schemas.ts): the defaults the editor's import
 * fills in, required flags, config-node references and the validators, which call the same
 * fieldProblem the build writes into the editor (cli/editor-html.ts) and the runtime's
 * readConfig runs. Issue 16: this replaced a `vm` sandbox that ran the editor's .html scripts and
 * guessed field names. A type without a schema (a core or third-party node) has none.
 */
import { fieldProblem } from "../../nodes/shared/schema/field-problem";
import type { NodeSchema } from "../../nodes/shared/schema/field-spec";
import { SCHEMAS } from "./node-schemas";

export type EditorValidator = (this: Record<string, unknown>, value: unknown, opt?: unknown) => unknown;

export interface FieldDef {
  value?: unknown;
  required?: boolean;
  /** Set when the field holds the id of a config node of this type. */
  type?: string;
  /** A ref's values that are the node's own setting, not an id (the schema's legacyValue). */
  legacyValue?: string;
  validate?: EditorValidator;
}

export interface NodeTypeDef {
  type: string;
  defaults: Record<string, FieldDef>;
  /** Field name -> "text" | "password". */
  credentials: Record<string, string>;
}

const cache = new Map<string, NodeTypeDef>();

/** The field definitions of `type`, or null when it has no schema (not an otb node). */
export function editorDef(type: string): NodeTypeDef | null {
  const entry = SCHEMAS[type];
  if (!entry) return null;
  let def = cache.get(type);
  if (!def) cache.set(type, (def = fromSchema(entry.schema)));
  return def;
}

/** The editor's defaults as the build generates them from the schema: the same checks. */
function fromSchema(schema: NodeSchema): NodeTypeDef {
  const defaults: Record<string, FieldDef> = { version: { value: schema.version } };
  for (const [name, spec] of Object.entries(schema.fields)) {
    defaults[name] =
      spec.kind === "ref"
        ? { value: spec.default, required: spec.required === true, type: spec.configType, ...(spec.legacyValue ? { legacyValue: spec.legacyValue } : {}) }
        : {
            value: spec.default,
            validate(this: Record<string, unknown>, value: unknown) {
              return fieldProblem(name, spec, value, this, schema.checks ?? {}) ?? true;
            },
          };
  }
  const credentials: Record<string, string> = {};
  for (const [name, c] of Object.entries(schema.credentials ?? {})) credentials[name] = c.type;
  return { type: schema.type, defaults, credentials };
}
