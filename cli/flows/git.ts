/** Reads a file as it was at a git revision (`git show REV:./file`), for `otbridge review`. */
import { execFileSync } from "child_process";
import * as path from "path";

export class GitError extends Error {}

/**
 * The file's text at `rev`, or null when the revision exists but the file did not (a new flow).
 * Throws GitError when git is missing, the folder is not a repository or `rev` is unknown.
 */
export function showAtRevision(file: string, rev: string): string | null {
  if (rev.startsWith("-")) throw new GitError(`bad revision "${rev}"`);
  const cwd = path.dirname(path.resolve(file));
  const run = (args: string[]): string => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 * 1024 * 1024 });
  try {
    run(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`]);
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? "");
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new GitError("git is not installed");
    if (/not a git repository/i.test(stderr)) throw new GitError(`${file} is not inside a git repository (use --old FILE to compare two files)`);
    throw new GitError(`unknown revision "${rev}"`);
  }
  try {
    return run(["show", `${rev}:./${path.basename(file)}`]);
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? "");
    if (/does not exist|exists on disk, but not in/i.test(stderr)) return null;
    throw new GitError(`git show ${rev}:${file} failed: ${stderr.trim().split("\n")[0]}`);
  }
}
