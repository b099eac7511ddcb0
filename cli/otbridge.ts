#!/usr/bin/env node
/**
 * The otbridge command. Each subcommand is a module in ./commands exporting `summary` and
 * `run(argv)`, found by file name, so adding one touches no shared table.
 */
import * as fs from "fs";
import * as path from "path";
import type { Command } from "./command";
import { CliError } from "./command";

const commandsDir = path.join(__dirname, "commands");

function listCommands(): string[] {
  if (!fs.existsSync(commandsDir)) return [];
  return fs
    .readdirSync(commandsDir)
    .filter((f) => f.endsWith(".js"))
    .map((f) => f.slice(0, -3))
    .sort();
}

function load(name: string): Command | null {
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !listCommands().includes(name)) return null;
  return require(path.join(commandsDir, name)) as Command;
}

/** The installed pack's version, from its own package.json (two levels above dist/cli). */
function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string };
  return pkg.version;
}

function usage(): string {
  const lines = ["Usage: otbridge <command> [options]", "", "Commands:"];
  for (const name of listCommands()) {
    const cmd = load(name);
    if (cmd) lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
  }
  lines.push("", "Run 'otbridge <command> --help' for a command's options; 'otbridge --version' for the version.");
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v" || name === "version") {
    console.log(packageVersion());
    return 0;
  }
  if (!name) {
    // No command is a usage error (exit 2, like every other one), but the help is what helps.
    console.error(usage());
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return 0;
  }
  const cmd = load(name);
  if (!cmd) {
    console.error(`otbridge: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // One line, no stack trace, for the errors a user can fix; a stack only for bugs.
    if (err instanceof CliError) console.error(`otbridge: ${err.message}`);
    else console.error(`otbridge: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  },
);
