/** What every otbridge subcommand module exports, and the argument parsing they share. */
import { parse as parseCsv } from "csv-parse/sync";
import { parseArgs as parseArgv } from "util";

export interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

/** A user-facing error: printed as one line, exit code 2 unless stated. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

export interface OptionSpec {
  /** "string" takes a value, "boolean" is a flag, "list" may repeat. */
  type: "string" | "boolean" | "list";
  /** One letter: `-h` for `--help`. */
  alias?: string;
  default?: string | boolean;
}

export interface Parsed {
  options: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * Parses `--name value`, `--name=value`, `--flag`, `--flag=false`, `-a value` and `--` with
 * Node's `util.parseArgs`. It runs non-strict and its tokens are checked here, because strict
 * mode refuses a value that starts with a dash (`--seed -1`, `--start-ago -5`) before the
 * command can say what is wrong with it, and its messages name no fix the user needs here:
 * unknown options, missing values and values on flags are CliErrors (exit 2) in one line.
 */
export function parseArgs(argv: string[], spec: Record<string, OptionSpec>): Parsed {
  const options: Parsed["options"] = {};
  const config: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const [name, s] of Object.entries(spec)) {
    config[name] = { type: s.type === "boolean" ? "boolean" : "string", ...(s.alias ? { short: s.alias } : {}), ...(s.type === "list" ? { multiple: true } : {}) };
    if (s.default !== undefined) options[name] = s.default;
  }
  const { tokens, positionals } = parseArgv({ args: argv, options: config, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const s = spec[token.name];
    if (!s) throw new CliError(`unknown option ${token.rawName}`);
    if (s.type === "boolean") {
      const v = token.value;
      if (v !== undefined && v !== "true" && v !== "false") throw new CliError(`--${token.name} takes no value`);
      options[token.name] = v !== "false";
      continue;
    }
    if (token.value === undefined) throw new CliError(`--${token.name} needs a value`);
    if (s.type === "list") options[token.name] = [...((options[token.name] as string[] | undefined) ?? []), token.value];
    else options[token.name] = token.value;
  }
  return { options, positionals };
}

/** A whole number option within bounds, or a CliError naming it. */
export function intOption(value: unknown, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`--${name} must be a whole number from ${min} to ${max}, got "${String(value)}"`);
  return n;
}

/** A number option within bounds. */
export function numberOption(value: unknown, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`--${name} must be a number from ${min} to ${max}, got "${String(value)}"`);
  return n;
}

/**
 * A comma-separated option value (`--features`, `--faults`, `--protocols`) read as one CSV record,
 * so an item holding a comma is written in quotes: `--features '"Pressure, bar:mean",Flow:std'`.
 * Items are trimmed; empty items are kept (the caller decides whether they are an error).
 */
export function listOption(value: string, name: string): string[] {
  if (value.trim() === "") return [];
  try {
    // relax_quotes: a quote inside an unquoted item is kept (a tag such as Pressure "PT-101" [bar]).
    const records = parseCsv(value, { delimiter: ",", ltrim: true, rtrim: true, relax_column_count: true, relax_quotes: true }) as string[][];
    if (records.length !== 1 || !records[0]) throw new Error("one line expected");
    return records[0];
  } catch (err) {
    throw new CliError(`--${name} is a comma-separated list (quote an item that holds a comma): ${(err as Error).message}`);
  }
}
