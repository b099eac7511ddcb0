/**
 * Second build step, after tsc: puts each node's editor .html, its locales/ and the pack's
 * icons beside the compiled .js, because that is where Node-RED's registry looks
 * (loader.js loadNodeConfig / loadNodeLocales, localfilesystem.js icon dirs).
 * Each .html's marker lines are filled in (cli/editor-html.ts): the shared form guard, and the
 * editor defaults/validators generated from the node's schema module (dist/nodes/<type>/schema.js).
 * Fails the build when a registered node lacks its .html or help. Last, it writes
 * dist/.build-stamp, which `npm start` compares sources against to skip a build (18 s of tsc
 * under load, even with nothing to compile).
 */
import * as fs from "fs";
import * as path from "path";
import { editorHtml } from "./editor-html";
import type { NodeSchema } from "../nodes/shared/schema";

const root = path.resolve(__dirname, "..", "..");

function copyDir(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyDir(src, dst);
    else fs.copyFileSync(src, dst);
  }
}

/** The compiled schema module beside the node's .js, when the node has one. */
function schemaOf(outDir: string): NodeSchema | undefined {
  const file = path.join(outDir, "schema.js");
  return fs.existsSync(file) ? (require(file) as { schema: NodeSchema }).schema : undefined;
}

function main(): number {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  const nodes: Record<string, string> = pkg["node-red"].nodes;
  const problems: string[] = [];
  for (const [type, jsPath] of Object.entries(nodes)) {
    const srcDir = path.join(root, "nodes", type);
    const outDir = path.join(root, path.dirname(jsPath));
    const html = path.join(srcDir, `${type}.html`);
    if (!fs.existsSync(html)) problems.push(`${type}: missing nodes/${type}/${type}.html`);
    else fs.writeFileSync(path.join(outDir, `${type}.html`), editorHtml(html, root, schemaOf(outDir)));
    const locales = path.join(srcDir, "locales");
    if (!fs.existsSync(path.join(locales, "en-US", `${type}.html`))) problems.push(`${type}: missing locales/en-US/${type}.html help`);
    if (fs.existsSync(locales)) copyDir(locales, path.join(outDir, "locales"));
    copyDir(path.join(root, "icons"), path.join(outDir, "icons"));
  }
  if (problems.length > 0) {
    for (const p of problems) console.error(`build-assets: ${p}`);
    return 1;
  }
  // The build is complete: scripts/build-if-stale.js compares sources against this stamp.
  fs.writeFileSync(path.join(root, "dist", ".build-stamp"), `${new Date().toISOString()}\n`);
  return 0;
}

process.exitCode = main();
