/**
 * `clone --check`: how a generated flow on disk differs from what template + manifest produce
 * now, field by field. Empty means no drift. Hand edits to a generated flow belong in the
 * manifest (or the template), or the next regeneration silently undoes them.
 */
import { renderPath, showValue } from "./deep-diff";
import { describeNode, type Flow } from "./flow-file";
import { diffFlows } from "./flow-diff";

export function driftLines(generated: Flow, onDisk: Flow): string[] {
  const diff = diffFlows(generated, onDisk);
  const lines: string[] = [];
  for (const n of diff.removed) lines.push(`${describeNode(n)} (${n.id}): generated, but missing from the file`);
  for (const n of diff.added) lines.push(`${describeNode(n)} (${n.id}): in the file, but not generated (added by hand?)`);
  let moved = 0;
  for (const c of diff.changed) {
    const who = `${describeNode(c.after)} (${c.after.id})`;
    if (c.newId) lines.push(`${who}: id differs, generated ${c.before.id}`);
    for (const f of c.fields) {
      lines.push(`${who}: ${renderPath(f.path) || "value"}: generated ${showValue(f.before)}, file ${showValue(f.after)}`);
    }
    for (const r of c.rewired) lines.push(`${who}: output ${r.port + 1}: generated [${r.before.join(", ")}], file [${r.after.join(", ")}]`);
    if (c.moved) moved++;
  }
  if (moved > 0) lines.push(`${moved} node(s) moved in the editor (layout only)`);
  return lines;
}
