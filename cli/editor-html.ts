/**
 * A node's editor .html as Node-RED gets it, with two marker lines filled in:
 * - "// otb:form-guard": nodes/shared/editor/form-guard.js, the one copy of the form guard every
 *   otb form uses (a node's .html is loaded as one piece and the pack has no editor bundle);
 * - "// otb:schema": `var otbSchema = {defaults, credentials, ...}` generated from the node's
 *   schema module (nodes/<type>/schema.ts), so the editor validates with the runtime's code.
 * Used by the build, which writes the result beside the .js.
 */
import * as fs from "fs";
import * as path from "path";
import { editorScript } from "../nodes/shared/schema/editor-script";
import type { NodeSchema } from "../nodes/shared/schema";

const FORM_GUARD_MARK = /^[ \t]*\/\/ otb:form-guard\b.*$/m;
const SCHEMA_MARK = /^[ \t]*\/\/ otb:schema\b.*$/m;

export function editorHtml(file: string, repoRoot: string, schema?: NodeSchema): string {
  let html = fs.readFileSync(file, "utf8");
  if (SCHEMA_MARK.test(html)) {
    if (!schema) throw new Error(`${file} has an "// otb:schema" line but its node has no schema module`);
    html = html.replace(SCHEMA_MARK, () => editorScript(schema));
  }
  if (!FORM_GUARD_MARK.test(html)) return html;
  const guard = fs.readFileSync(path.join(repoRoot, "nodes", "shared", "editor", "form-guard.js"), "utf8");
  return html.replace(FORM_GUARD_MARK, () => guard.replace(/^\/\*[\s\S]*?\*\/\n/, "").trimEnd());
}
