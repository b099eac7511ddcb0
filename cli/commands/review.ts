/**
 * `otbridge review [--base REV] [FILES...]`: what changed in each flow since REV (default HEAD),
 * or between two files with --old, as Markdown sentences for a pull request. With no FILES, the
 * flows changed in the working tree (git's changed and untracked .json files that are flows).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { CliError, parseArgs, type Command } from "../command";
import { diffFlows } from "../flows/flow-diff";
import { FlowFileError, parseFlow, readFlow, type Flow } from "../flows/flow-file";
import { GitError, showAtRevision } from "../flows/git";
import { reviewMarkdown, reviewSentences } from "../flows/sentences";

const HELP = `Usage: otbridge review [--base REV] [FILES...]
       otbridge review --old OLD.json NEW.json

Summarises what changed in Node-RED flow files as Markdown a reviewer reads in a pull request:
zone and conduit changes first, nodes added and removed by name and type, config fields with
old and new values ("otb-validate 'pump rules': tag pump1.current range badAbove 80 -> 8"),
rewiring, and editor-only moves in one line. Secret-looking values are never printed.

Without FILES it reviews every Node-RED flow file (.json) under the current folder that differs
from REV in the working tree: changed, new (untracked, not ignored) or deleted.

Options:
  --base REV     git revision to compare against (default HEAD); a file new since REV shows as all added
  --old FILE     compare this file (the old version) with the one FILE given, instead of git
  --format md|json  output format (default md)
  -h, --help     this text

Exit status: 0 (also when there are changes), 2 on bad input.`;

const command: Command = {
  summary: "describe flow changes since a git revision as Markdown for a pull request",
  async run(argv) {
    const { options, positionals } = parseArgs(argv, {
      base: { type: "string", default: "HEAD" },
      old: { type: "string" },
      format: { type: "string", default: "md" },
      help: { type: "boolean", alias: "h" },
    });
    if (options.help) {
      console.log(HELP);
      return 0;
    }
    const format = options.format as string;
    if (format !== "md" && format !== "json") throw new CliError(`--format must be md or json, got "${format}"`);
    const old = options.old as string | undefined;
    if (old && positionals.length !== 1) throw new CliError("--old compares with exactly one FILE");
    const base = options.base as string;
    let files = positionals;
    const deleted = new Set<string>();
    if (files.length === 0) {
      const changed = changedFlowFiles(base);
      if (changed.files.length === 0) {
        console.log(format === "json" ? "[]" : `## Flow changes\n\nNo flow file under ${process.cwd()} differs from ${base}.`);
        return 0;
      }
      files = changed.files;
      for (const f of changed.deleted) deleted.add(f);
    }
    const parts: string[] = [];
    const json: unknown[] = [];
    for (const file of files) {
      try {
        const after: Flow = deleted.has(file) ? { file, nodes: [], byId: new Map() } : readFlow(file);
        let before: Flow;
        let title: string;
        if (old) {
          before = readFlow(old);
          title = `${file} (compared with ${old})`;
        } else {
          if (!deleted.has(file) && !fs.existsSync(file)) throw new FlowFileError(file, "file not found");
          const text = deleted.has(file) ? gitShow(file, base) : showAtRevision(file, base);
          before = text === null ? { file, nodes: [], byId: new Map() } : parseFlow(text, `${base}:${file}`);
          title = deleted.has(file) ? `${file} (deleted since ${base})` : text === null ? `${file} (new since ${base})` : `${file} (${base} -> working tree)`;
        }
        const diff = diffFlows(before, after);
        if (format === "json") json.push({ file, title, ...reviewSentences(diff) });
        else parts.push(reviewMarkdown(title, diff));
      } catch (err) {
        if (err instanceof FlowFileError || err instanceof GitError) throw new CliError(err.message);
        throw err;
      }
    }
    console.log(format === "json" ? JSON.stringify(json, null, 2) : `## Flow changes\n\n${parts.join("\n")}`.trimEnd());
    return 0;
  },
};

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 * 1024 * 1024 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: unknown };
    if (e.code === "ENOENT") throw new CliError("git is not installed");
    const stderr = String(e.stderr ?? "");
    if (/not a git repository/i.test(stderr)) throw new CliError("not inside a git repository: name the flow files, or use --old OLD.json NEW.json");
    throw new CliError(`git ${args[0]}: ${stderr.trim().split("\n")[0] || (err as Error).message}`);
  }
}

/** A deleted file's text at REV (showAtRevision needs the file's folder to exist). */
function gitShow(file: string, rev: string): string | null {
  const prefix = git(["rev-parse", "--show-prefix"]).trim();
  try {
    return git(["show", `${rev}:${path.posix.join(prefix, file.split(path.sep).join("/"))}`]);
  } catch {
    return null;
  }
}

/**
 * The .json files under the current folder that differ from `rev` in the working tree (tracked
 * and changed, staged or not; deleted; untracked and not ignored), keeping only Node-RED flows:
 * the text now, or at `rev` for a deleted file, must parse as a flow (package.json does not).
 */
function changedFlowFiles(rev: string): { files: string[]; deleted: string[] } {
  if (rev.startsWith("-")) throw new CliError(`bad revision "${rev}"`);
  try {
    git(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`]);
  } catch (err) {
    if (err instanceof CliError && /not inside a git repository|not installed/.test(err.message)) throw err;
    throw new CliError(`unknown revision "${rev}"`);
  }
  const lines = (text: string): string[] => text.split("\n").map((l) => l.trim()).filter((l) => l.toLowerCase().endsWith(".json"));
  const changed = lines(git(["diff", "--name-only", "--relative", "--no-renames", rev, "--", "."]));
  const untracked = lines(git(["ls-files", "--others", "--exclude-standard", "--", "."]));
  const files: string[] = [];
  const deleted: string[] = [];
  for (const f of [...new Set([...changed, ...untracked])].sort()) {
    const gone = !fs.existsSync(f);
    const text = gone ? gitShow(f, rev) : fs.readFileSync(f, "utf8");
    if (text === null) continue;
    try {
      parseFlow(text, f);
    } catch {
      continue; // not a flow (package.json, a tag catalog, ...)
    }
    files.push(f);
    if (gone) deleted.push(f);
  }
  return { files, deleted };
}

export = command;
