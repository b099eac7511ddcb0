/**
 * Where a node keeps and finds its files: Node-RED's userDir (settings.userDir, which Node-RED
 * always sets: --userDir, or ~/.node-red). One resolver for every node. Anything durable (the
 * conduit's queue, PKI, saved state) refuses to start without it rather than fall back to a
 * temporary folder a reboot empties; files a flow names relative are read from userDir.
 */
import * as path from "path";
import { ConfigError } from "./errors";
import type { NodeAPI } from "./red";

/** settings.userDir, or null where Node-RED was embedded without one. */
export function userDirOf(RED: Pick<NodeAPI, "settings">): string | null {
  const dir = (RED.settings as unknown as { userDir?: unknown }).userDir;
  return typeof dir === "string" && dir.trim() !== "" ? dir : null;
}

/** userDir for something that must survive a restart; a ConfigError when Node-RED has none. */
export function durableDir(RED: Pick<NodeAPI, "settings">, what: string, ...parts: string[]): string {
  const dir = userDirOf(RED);
  if (!dir) throw new ConfigError(`Node-RED has no userDir, so ${what} has nowhere durable to live: set userDir in settings.js or start with --userDir`);
  return path.join(dir, ...parts);
}

/** A file a flow names: absolute as given, relative to userDir (the working folder when there is none). */
export function userFile(RED: Pick<NodeAPI, "settings">, file: string): string {
  return path.isAbsolute(file) ? file : path.resolve(userDirOf(RED) ?? process.cwd(), file);
}
