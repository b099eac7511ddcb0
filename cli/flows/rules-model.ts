/**
 * model-pinned: every otb-infer model file exists and matches its pinned sha256. The contract
 * (model card): `<name>.onnx` has `<name>.card.json` beside it whose `sha256` is the lowercase
 * hex digest of the .onnx bytes; a pin in the node itself must agree with both. A relative path
 * is looked up beside the flow file, then in the repo root, then in `fileRoots`.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { fact, FIELD_CANDIDATES } from "./contract-fields";
import type { Rule } from "./lint-types";

const ENV_REF = /\$\{[^}]+\}/;
const hashCache = new Map<string, string>();

/** sha256 of a file, cached by path, size and mtime so a pre-commit hook re-hashes only what changed. */
export function fileSha256(file: string): string {
  const st = fs.statSync(file);
  const key = `${file}\0${st.size}\0${st.mtimeMs}`;
  let digest = hashCache.get(key);
  if (!digest) {
    digest = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    hashCache.set(key, digest);
  }
  return digest;
}

/** `pump.onnx` -> `pump.card.json` (the contract's name for the card beside a model). */
export function cardPathFor(modelFile: string): string {
  return modelFile.replace(/\.onnx$/i, "") + ".card.json";
}

export function resolveRepoFile(model: string, flowFile: string, root: string, fileRoots: string[]): string | null {
  if (path.isAbsolute(model)) return fs.existsSync(model) ? model : null;
  const bases = [path.dirname(flowFile), root, ...fileRoots.map((r) => path.resolve(root, r))];
  for (const base of bases) {
    const candidate = path.resolve(base, model);
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

export const modelPinned: Rule = {
  id: "model-pinned",
  description: "every otb-infer model exists, has its card beside it, and matches the card's (and the node's) sha256",
  severity: "error",
  check({ flow, settings, report }) {
    for (const node of flow.nodes.filter((n) => n.type === "otb-infer")) {
      const model = fact(node, "inferModel");
      // The field, so that node-config's schema check of it is not a second finding.
      const modelField = { field: model?.[0] ?? FIELD_CANDIDATES.inferModel[0] };
      if (!model || typeof model[1] !== "string") {
        report(node, `no model file (one of ${FIELD_CANDIDATES.inferModel.join(", ")})`, modelField);
        continue;
      }
      const name = model[1];
      if (ENV_REF.test(name)) {
        const pin = fact(node, "inferSha256");
        const pinNote = pin ? `; otb-infer verifies the pinned ${pin[0]} ${String(pin[1]).slice(0, 12)}... when it loads it` : "and nothing pins its sha256 in the flow";
        report(node, `model path ${name} comes from the environment; lint cannot check the file${pin ? pinNote : ` ${pinNote}`}`, { ...modelField, downgrade: true });
        continue;
      }
      const file = resolveRepoFile(name, flow.file, settings.root, settings.fileRoots);
      if (!file) {
        report(node, `model file ${name} not found (looked beside the flow, in the repo root and in fileRoots)`, modelField);
        continue;
      }
      // An explicit card path in the node wins over the contract's "<name>.card.json beside the model".
      const explicitCard = fact(node, "inferCard")?.[1];
      const cardFile = typeof explicitCard === "string" && !ENV_REF.test(explicitCard) ? (resolveRepoFile(explicitCard, flow.file, settings.root, settings.fileRoots) ?? explicitCard) : cardPathFor(file);
      let cardSha: unknown;
      try {
        cardSha = (JSON.parse(fs.readFileSync(cardFile, "utf8")) as { sha256?: unknown }).sha256;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        report(node, code === "ENOENT" ? `model ${name} has no card ${path.basename(cardFile)} beside it` : `model card ${path.basename(cardFile)} is not valid JSON`);
        continue;
      }
      if (typeof cardSha !== "string" || !/^[0-9a-f]{64}$/.test(cardSha)) {
        report(node, `model card ${path.basename(cardFile)} has no lowercase hex sha256`);
        continue;
      }
      const actual = fileSha256(file);
      if (actual !== cardSha) report(node, `model ${name} does not match its card: file sha256 ${actual.slice(0, 12)}..., card pins ${cardSha.slice(0, 12)}...`);
      const pin = fact(node, "inferSha256");
      if (pin && String(pin[1]).toLowerCase() !== cardSha) {
        report(node, `pinned ${pin[0]} ${String(pin[1]).slice(0, 12)}... differs from the card's ${cardSha.slice(0, 12)}...`, { field: pin[0] });
      }
    }
  },
};
