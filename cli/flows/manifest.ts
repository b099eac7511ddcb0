/**
 * Line manifests: the data that makes line N's flow out of the pilot template. The format is
 * the JSON Schema in line-manifest.schema.json (shipped beside this module so editors can
 * validate manifests with "$schema"); this module loads and checks one.
 */
import Ajv from "ajv";
import * as fs from "fs";
import schema from "./line-manifest.schema.json";

export type NodeOverrides = Record<string, Record<string, unknown>>;

export interface LineManifest {
  manifestVersion: 1;
  template?: string;
  out?: string;
  line: { id: string; label?: string; enterprise: string; site: string; area: string; line: string; [field: string]: unknown };
  endpoints?: NodeOverrides;
  tags?: NodeOverrides;
  model?: { node?: string; file: string; sha256: string };
  conduits?: NodeOverrides;
  nodes?: NodeOverrides;
}

export class ManifestError extends Error {}

const validate = new Ajv({ allErrors: true, strict: false }).compile<LineManifest>(schema);

export function parseManifest(text: string, file: string): LineManifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (!validate(data)) {
    const problems = (validate.errors ?? []).slice(0, 5).map((e) => {
      const extra = "additionalProperty" in e.params ? ` "${String(e.params.additionalProperty)}"` : "";
      return `${e.instancePath || "(top)"} ${e.message ?? "is invalid"}${extra}`;
    });
    throw new ManifestError(`${file}: does not match the line manifest schema: ${problems.join("; ")}`);
  }
  return data;
}

export function readManifest(file: string): LineManifest {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ManifestError(`${file}: ${code === "ENOENT" ? "file not found" : `cannot read (${code})`}`);
  }
  return parseManifest(text, file);
}
