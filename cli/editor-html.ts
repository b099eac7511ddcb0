/**
 * A node's editor .html as Node-RED gets it: the marker line "// otb:form-guard" replaced by
 * nodes/shared/editor/form-guard.js, the one copy of the form guard every otb form uses (a
 * node's .html is loaded as one piece and the pack has no editor bundle). Used by the build,
 * which writes the result beside the .js, and by `otbridge lint`, which reads the sources.
 */
import * as fs from "fs";
import * as path from "path";

const FORM_GUARD_MARK = /^[ \t]*\/\/ otb:form-guard\b.*$/m;

export function editorHtml(file: string, repoRoot: string): string {
  const html = fs.readFileSync(file, "utf8");
  if (!FORM_GUARD_MARK.test(html)) return html;
  const guard = fs.readFileSync(path.join(repoRoot, "nodes", "shared", "editor", "form-guard.js"), "utf8");
  return html.replace(FORM_GUARD_MARK, () => guard.replace(/^\/\*[\s\S]*?\*\/\n/, "").trimEnd());
}
