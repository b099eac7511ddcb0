/**
 * What a node's configuration field is, as data: the one definition the editor's defaults and
 * validators, the runtime parser and `otbridge lint` all read (issue 16). A field spec is plain
 * JSON (it is written into the editor by the build); custom checks are named and live in the
 * schema's `checks`, each a self-contained function (see field-problem.ts for why).
 */

export type FieldKind = "text" | "number" | "boolean" | "enum" | "json" | "ref";

/**
 * A custom check: the problem as the end of a sentence after the field name ("cannot be a topic
 * level"), or null. Gets the raw value (never blank, never a whole ${VAR}), the whole node (so it
 * can compare fields; in the editor, with the form's current values), the field's spec (data
 * such as `values`) and the schema's checks (a select that carries a dependent field's verdict
 * calls that field's check instead of repeating it). Self-contained: no imports, no outer variables.
 */
export type FieldCheck = (value: unknown, node: Record<string, unknown>, spec: FieldSpec, checks: Readonly<Record<string, FieldCheck>>) => string | null;

export interface FieldSpec {
  kind: FieldKind;
  /** The value a new node gets in the editor and a flow that leaves the field out gets at runtime. */
  default: unknown;
  required?: boolean;
  /** false: a whole ${VAR} is not accepted (default: accepted, as Node-RED resolves it at start). */
  env?: boolean;
  min?: number;
  max?: number;
  integer?: boolean;
  /** enum: the accepted values (also data a check may read, e.g. the aggregations of a feature list). */
  values?: readonly string[];
  /** json: the shape the parsed value must have. */
  json?: "array" | "object" | "any";
  /** text: a regular expression (source) the value must match. */
  pattern?: string;
  /** text: the end of the sentence shown when `pattern` fails ("cannot be a topic level"). */
  patternMessage?: string;
  /** ref: the config node type this field points at. */
  configType?: string;
  /**
   * ref: a regular expression (source) for values that are not a config node id but the node's
   * own setting from before its config node type existed (otb-mqtt-in's broker URL): the runner
   * does not look such a value up, the node reads it itself.
   */
  legacyValue?: string;
  /** The name of a check in the schema's `checks`. */
  check?: string;
  /** Run the check on a blank value too (whether blank is fine depends on other fields). */
  checkBlank?: boolean;
  /** Values the agreement test must see accepted / refused, beyond the ones it derives. */
  samples?: { valid?: unknown[]; invalid?: unknown[] };
}

export interface CredentialSpec {
  type: "text" | "password";
}

/**
 * A version step for flows saved by an older pack: `up` gets a copy of the saved node (fields as
 * stored) and returns it in the shape of version `to`. Must be idempotent: an editor that saved a
 * node without bumping its version makes the runtime apply the step again.
 */
export interface Migration {
  to: number;
  describe: string;
  up(def: Record<string, unknown>): Record<string, unknown>;
}

export interface NodeSchema<F extends Record<string, FieldSpec> = Record<string, FieldSpec>> {
  type: string;
  /** The stored shape's version; a node without `version` was saved as version 1. */
  version: number;
  fields: F;
  credentials?: Record<string, CredentialSpec>;
  checks?: Record<string, FieldCheck>;
  migrations?: Migration[];
}

/** The typed value readConfig gives for a field. */
export type FieldValue<S extends FieldSpec> = S["kind"] extends "number"
  ? number
  : S["kind"] extends "boolean"
    ? boolean
    : S["kind"] extends "enum"
      ? S["values"] extends readonly (infer V)[]
        ? V
        : string
      : S["kind"] extends "json"
        ? unknown
        : string;

export type ConfigOf<S extends NodeSchema> = { [K in keyof S["fields"]]: FieldValue<S["fields"][K]> };
