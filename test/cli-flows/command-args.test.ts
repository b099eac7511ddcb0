/**
 * The options every otbridge command shares, parsed by Node's util.parseArgs (cli/command.ts):
 * the forms users type, values that start with a dash, and one-line errors (exit 2) for unknown
 * options, missing values and values on flags. The commands' own tests (test/sim/cli.test.ts,
 * test/train/train-cli.test.ts, test/cli-flows) run the same parser through the real CLI.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { CliError, listOption, parseArgs, type OptionSpec } from "../../cli/command";

const CLI = path.resolve(__dirname, "..", "..", "cli", "otbridge.js");

const SPEC: Record<string, OptionSpec> = {
  out: { type: "string" },
  seed: { type: "string", default: "1" },
  check: { type: "boolean" },
  loop: { type: "boolean", default: false },
  manifest: { type: "list" },
  help: { type: "boolean", alias: "h" },
};

function fails(argv: string[]): CliError {
  try {
    parseArgs(argv, SPEC);
  } catch (err) {
    assert.ok(err instanceof CliError, String(err));
    return err;
  }
  assert.fail(`${argv.join(" ")} was accepted`);
}

describe("otbridge argument parsing (util.parseArgs)", () => {
  it("reads --name value, --name=value, flags, one-letter aliases and defaults", () => {
    const { options, positionals } = parseArgs(["a.json", "--out", "x.json", "--seed=7", "--check", "-h", "b.json"], SPEC);
    assert.deepStrictEqual(options, { out: "x.json", seed: "7", check: true, loop: false, help: true });
    assert.deepStrictEqual(positionals, ["a.json", "b.json"]);
  });

  it("keeps defaults for options not given, and an explicit empty value", () => {
    assert.deepStrictEqual(parseArgs([], SPEC).options, { seed: "1", loop: false });
    assert.strictEqual(parseArgs(["--out="], SPEC).options.out, "");
  });

  it("collects a repeated list option in order; a repeated string option keeps the last", () => {
    const { options } = parseArgs(["--manifest", "a.yaml", "--manifest=b.yaml", "--out", "1", "--out", "2"], SPEC);
    assert.deepStrictEqual(options.manifest, ["a.yaml", "b.yaml"]);
    assert.strictEqual(options.out, "2");
  });

  it("takes a value that starts with a dash (a negative number, - for stdout) so the command can judge it", () => {
    assert.strictEqual(parseArgs(["--seed", "-1"], SPEC).options.seed, "-1");
    assert.strictEqual(parseArgs(["--out", "-"], SPEC).options.out, "-");
  });

  it("--flag=false and --flag=true set a flag; anything after -- is positional", () => {
    assert.strictEqual(parseArgs(["--loop=true"], SPEC).options.loop, true);
    assert.strictEqual(parseArgs(["--check=false"], SPEC).options.check, false);
    assert.deepStrictEqual(parseArgs(["--", "--out", "-h"], SPEC), { options: { seed: "1", loop: false }, positionals: ["--out", "-h"] });
  });

  const bad: Array<[string[], string]> = [
    [["--bogus"], "unknown option --bogus"],
    [["--bogus=1"], "unknown option --bogus"],
    [["-x"], "unknown option -x"],
    [["--out"], "--out needs a value"],
    [["--check", "--manifest"], "--manifest needs a value"],
    [["--check=yes"], "--check takes no value"],
  ];
  for (const [argv, message] of bad) {
    it(`${argv.join(" ")}: "${message}", exit code 2`, () => {
      const err = fails(argv);
      assert.strictEqual(err.message, message);
      assert.strictEqual(err.exitCode, 2);
    });
  }

  it("reads a comma-separated option as one CSV record: trimmed items, quotes for an item with a comma", () => {
    assert.deepStrictEqual(listOption("opcua, modbus ,mqtt", "protocols"), ["opcua", "modbus", "mqtt"]);
    assert.deepStrictEqual(listOption('"Pressure, bar:mean",Flow', "features"), ["Pressure, bar:mean", "Flow"]);
    assert.deepStrictEqual(listOption("spike,,drift", "faults"), ["spike", "", "drift"]);
    assert.deepStrictEqual(listOption('Pressure "PT-101" [bar]:std,Flow', "features"), ['Pressure "PT-101" [bar]:std', "Flow"], "a quote inside an item is kept");
    assert.deepStrictEqual(listOption("", "faults"), []);
    assert.throws(() => listOption('"open', "features"), (e: Error) => e instanceof CliError && /^--features is a comma-separated list/.test(e.message));
  });

  it("through the real CLI: one line on stderr, exit 2, for each command", () => {
    for (const [command, argv, message] of [
      ["lint", ["--nope"], "unknown option --nope"],
      ["clone", ["--out"], "--out needs a value"],
      ["train", ["--csv"], "--csv needs a value"],
      ["inventory", ["--format"], "--format needs a value"],
      ["review", ["--base"], "--base needs a value"],
      ["start", ["--reset=maybe"], "--reset takes no value"],
    ] as Array<[string, string[], string]>) {
      const r = spawnSync(process.execPath, [CLI, command, ...argv], { encoding: "utf8", timeout: 60_000 });
      assert.strictEqual(r.status, 2, `${command}: ${r.stderr}`);
      assert.strictEqual(r.stderr.trim(), `otbridge: ${message}`, command);
    }
  });
});
