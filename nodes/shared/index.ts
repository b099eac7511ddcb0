/** The typed core every otb node imports. */
export * from "./types";
export * from "./schemas";
export * from "./envelope";
export * from "./errors";
export * from "./node-kit";
export * from "./status";
export * from "./shared-connection";
export * from "./shift-calendar";
export * from "./red";
