/**
 * Damaged segments are moved aside, never deleted: `<queue dir>/damaged/<segment name>` (with a
 * numeric suffix when that name is taken), so an operator can inspect or salvage them. The move
 * is a rename on the same filesystem (no extra space on a full disk), and an open read handle
 * keeps working, so the valid records of the segment still replay from it.
 */
import * as fs from "fs";
import * as path from "path";

export interface DamageReport {
  /** Where the segment was. */
  file: string;
  /** Where it is now. */
  movedTo: string;
  /** Records lost to the damage (the valid ones still replay). */
  lost: number;
}

export function moveAside(dir: string, file: string): string {
  const aside = path.join(dir, "damaged");
  fs.mkdirSync(aside, { recursive: true });
  const base = path.basename(file);
  let target = path.join(aside, base);
  for (let n = 1; fs.existsSync(target); n++) target = path.join(aside, `${base}.${n}`);
  fs.renameSync(file, target);
  return target;
}

export function damageMessage(d: DamageReport): string {
  return `queue segment ${path.basename(d.file)} is damaged: ${d.lost} record(s) lost, the valid ones replay; ` +
    `the file was moved aside to ${d.movedTo} (not deleted)`;
}
