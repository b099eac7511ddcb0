/**
 * `otbridge review [--base REV] FILES...`: what changed in each flow since REV (default HEAD),
 * or between two files with --old, as Markdown sentences for a pull request.
 */
import * as fs from "fs";
import { CliError, parseArgs, type Command } from "../command";
import { diffFlows } from "../flows/flow-diff";
import { FlowFileError, parseFlow, readFlow, type Flow } from "../flows/flow-file";
import { GitError, showAtRevision } from "../flows/git";
import { reviewMarkdown, reviewSentences } from "../flows/sentences";

const HELP = `Usage: otbridge review [--base REV] FILES...
       otbridge review --old OLD.json NEW.json

Summarises what changed in Node-RED flow files as Markdown a reviewer reads in a pull request:
zone and conduit changes first, nodes added and removed by name and type, config fields with
old and new values ("otb-validate 'pump rules': tag pump1.current range badAbove 80 -> 8"),
rewiring, and editor-only moves in one line. Secret-looking values are never printed.

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
    if (positionals.length === 0) throw new CliError("review needs at least one flow file (see --help)");
    const old = options.old as string | undefined;
    if (old && positionals.length !== 1) throw new CliError("--old compares with exactly one FILE");
    const base = options.base as string;
    const parts: string[] = [];
    const json: unknown[] = [];
    for (const file of positionals) {
      try {
        const after = readFlow(file);
        let before: Flow;
        let title: string;
        if (old) {
          before = readFlow(old);
          title = `${file} (compared with ${old})`;
        } else {
          if (!fs.existsSync(file)) throw new FlowFileError(file, "file not found");
          const text = showAtRevision(file, base);
          before = text === null ? { file, nodes: [], byId: new Map() } : parseFlow(text, `${base}:${file}`);
          title = text === null ? `${file} (new since ${base})` : `${file} (${base} -> working tree)`;
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

export = command;
