/**
 * catalog-file: tag lists, register maps and rule sets may live in JSON files in the repo
 * (DESIGN.md "tag catalog"). A flow that names such a file must find it, and it must be JSON;
 * a clone that forgot to copy a catalog fails here instead of at deploy time.
 */
import * as fs from "fs";
import { fact, FIELD_CANDIDATES } from "./contract-fields";
import { OTB_TYPES } from "./known-types";
import type { Rule } from "./lint-types";
import { resolveRepoFile } from "./rules-model";

const ENV_REF = /\$\{[^}]+\}/;

export const catalogFile: Rule = {
  id: "catalog-file",
  description: "a tag catalog or register map file an otb node loads exists (beside the flow, in the repo root or fileRoots) and is JSON",
  severity: "error",
  check({ flow, settings, report }) {
    for (const node of flow.nodes.filter((n) => OTB_TYPES.has(n.type))) {
      // A node whose tables come from its form ignores a leftover file name.
      const mode = fact(node, "catalogMode")?.[1];
      if (mode !== undefined && mode !== "file") continue;
      for (const field of FIELD_CANDIDATES.catalogFile) {
        const name = node[field];
        if (typeof name !== "string" || !name.trim()) continue;
        if (ENV_REF.test(name)) {
          report(node, `${field} ${name} comes from the environment; it cannot be checked here`, { field, downgrade: true });
          continue;
        }
        const file = resolveRepoFile(name, flow.file, settings.root, settings.fileRoots);
        if (!file) {
          report(node, `${field} ${name} not found (looked beside the flow, in the repo root and in fileRoots)`, { field });
          continue;
        }
        try {
          JSON.parse(fs.readFileSync(file, "utf8"));
        } catch (err) {
          report(node, `${field} ${name} is not valid JSON (${(err as Error).message})`, { field });
        }
      }
    }
  },
};
