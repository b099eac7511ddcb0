/** Builders for field specs, so a schema reads as a list and keeps its value types. */
import type { FieldSpec, NodeSchema } from "./field-spec";

type Options = Omit<FieldSpec, "kind" | "default">;

export interface TextField extends FieldSpec { kind: "text"; default: string }
export interface NumberField extends FieldSpec { kind: "number"; default: number | "" }
export interface BooleanField extends FieldSpec { kind: "boolean"; default: boolean }
export interface EnumField<V extends string> extends FieldSpec { kind: "enum"; default: V; values: readonly V[] }
export interface JsonField extends FieldSpec { kind: "json" }
export interface RefField extends FieldSpec { kind: "ref"; default: ""; configType: string }

export const field = {
  text: (options: Options & { default?: string } = {}): TextField => ({ kind: "text", ...options, default: options.default ?? "" }),
  number: (defaultValue: number | "", options: Options = {}): NumberField => ({ kind: "number", ...options, default: defaultValue }),
  boolean: (defaultValue: boolean, options: Options = {}): BooleanField => ({ kind: "boolean", ...options, default: defaultValue }),
  oneOf: <V extends string>(values: readonly V[], defaultValue: V, options: Options = {}): EnumField<V> => ({ kind: "enum", ...options, values, default: defaultValue }),
  json: (defaultValue: unknown, options: Options = {}): JsonField => ({ kind: "json", ...options, default: defaultValue }),
  ref: (configType: string, options: Options = {}): RefField => ({ kind: "ref", ...options, configType, default: "" }),
};

/** Identity with the field types kept: `export const schema = defineSchema({...})`. */
export function defineSchema<F extends Record<string, FieldSpec>>(schema: NodeSchema<F>): NodeSchema<F> {
  return schema;
}
