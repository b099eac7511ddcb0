/** What every otbridge subcommand module exports, and the small argument parser they share. */
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
  alias?: string;
  default?: string | boolean;
}

export interface Parsed {
  options: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parses `--name value`, `--name=value`, `--flag`, `-a value`; unknown options are errors. */
export function parseArgs(argv: string[], spec: Record<string, OptionSpec>): Parsed {
  const options: Parsed["options"] = {};
  const positionals: string[] = [];
  const byAlias = new Map<string, string>();
  for (const [name, s] of Object.entries(spec)) {
    if (s.alias) byAlias.set(s.alias, name);
    if (s.default !== undefined) options[name] = s.default;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else {
      name = byAlias.get(arg.slice(1)) ?? arg.slice(1);
    }
    const s = spec[name];
    if (!s) throw new CliError(`unknown option ${arg}`);
    if (s.type === "boolean") {
      if (inline !== undefined && inline !== "true" && inline !== "false") throw new CliError(`--${name} takes no value`);
      options[name] = inline !== "false";
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new CliError(`--${name} needs a value`);
    if (s.type === "list") options[name] = [...((options[name] as string[] | undefined) ?? []), value];
    else options[name] = value;
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
