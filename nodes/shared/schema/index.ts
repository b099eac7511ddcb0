export * from "./field-spec";
export * from "./fields";
export * from "./field-problem";
export * from "./read-config";
export * as checks from "./checks";
