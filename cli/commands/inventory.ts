/**
 * `otbridge inventory FILES...`: which data crosses from which zone to which broker and topic,
 * over what protection, for an IEC 62443 zone and conduit review.
 */
import { CliError, parseArgs, type Command } from "../command";
import { expandPaths, looksLikeFlow, MissingPathError } from "../flows/files";
import { FlowFileError, readFlow } from "../flows/flow-file";
import { inventory, type ConduitRoute, type Egress } from "../flows/zone-inventory";

const HELP = `Usage: otbridge inventory [--format md|json] FILES|FOLDERS...

Lists, for every otb-publish in the flows, the conduit it uses (source and target zone, broker,
TLS, server verification, MQTT version), the topic and allowlist, the message kinds and tags
that reach it (found by following the wires upstream to the sources), and any core network
output that sends data out around the conduits.

Tags are read from every source: OPC UA tag lists and catalog files, Modbus register maps in
the flow or in files, otb-mqtt-in mapping rows. A \${VAR} value shows the flow's own default
(from group, tab or global env), marked as a default. Anything that cannot be known from the
flow (a missing file, a tag named per message, Sparkplug B metrics named by BIRTHs) is printed
as "incomplete: ...": the list is then a lower bound.

Options:
  --format md|json  output format (default md)
  -h, --help        this text

Exit status: 0, or 2 on bad input.`;

const command: Command = {
  summary: "zone and conduit inventory: which data leaves which zone, where, how protected",
  async run(argv) {
    const { options, positionals } = parseArgs(argv, {
      format: { type: "string", default: "md" },
      help: { type: "boolean", alias: "h" },
    });
    if (options.help) {
      console.log(HELP);
      return 0;
    }
    const format = options.format as string;
    if (format !== "md" && format !== "json") throw new CliError(`--format must be md or json, got "${format}"`);
    if (positionals.length === 0) throw new CliError("inventory needs at least one flow file or folder (see --help)");
    const routes: ConduitRoute[] = [];
    const egress: Egress[] = [];
    const idle: string[] = [];
    try {
      for (const { file, discovered } of expandPaths(positionals)) {
        if (discovered && !looksLikeFlow(file)) continue;
        const inv = inventory(readFlow(file));
        routes.push(...inv.routes);
        egress.push(...inv.egress);
        idle.push(...inv.idleConduits.map((c) => `${c} (${file})`));
      }
    } catch (err) {
      if (err instanceof FlowFileError || err instanceof MissingPathError) throw new CliError(err.message);
      throw err;
    }
    if (format === "json") console.log(JSON.stringify({ routes, egress, idleConduits: idle }, null, 2));
    else console.log(markdown(routes, egress, idle));
    return 0;
  },
};

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function markdown(routes: ConduitRoute[], egress: Egress[], idle: string[]): string {
  const out = ["## Zone and conduit inventory", ""];
  if (routes.length === 0) out.push("No otb-publish nodes: no data leaves through a conduit.", "");
  else {
    out.push("| flow | publisher | from -> to | broker | protection | topic | kinds | tags |", "|---|---|---|---|---|---|---|---|");
    for (const r of routes) {
      const listed = r.tags.length > 24 ? `${r.tags.slice(0, 24).join(", ")} and ${r.tags.length - 24} more (--format json lists all)` : r.tags.join(", ") || "-";
      const tags = `${r.incomplete.length ? "at least " : ""}${r.tags.length}: ${listed}`;
      out.push(`| ${[r.file, r.publisher, `${r.from} -> ${r.to}`, r.broker, r.protection, r.topic, r.kinds.join(", ") || "-", tags].map(cell).join(" | ")} |`);
    }
    out.push("");
    for (const r of routes) {
      if (r.allowlist.length > 0 || r.allowedKinds.length > 0) {
        out.push(`- ${r.publisher} via ${r.conduit}: allowlist ${r.allowlist.join(", ") || "(none)"}; kinds allowed ${r.allowedKinds.join(", ") || "(policy default)"}.`);
      }
      if (r.tagOrigins.length > 0) out.push(`- ${r.publisher} tags from ${r.tagOrigins.join("; ")}.`);
      for (const i of r.incomplete) out.push(`- ${r.publisher} incomplete: ${i}`);
      if (r.transforms.length > 0) out.push(`- ${r.publisher} data passes through ${r.transforms.join(", ")}: code that can reshape it, to review by hand.`);
    }
    const defaults = [...new Set(routes.flatMap((r) => r.envDefaults))];
    if (defaults.length > 0) {
      out.push("", "**Environment defaults** (the flow's own; the deploy environment may override them):", "");
      for (const d of defaults) out.push(`- ${d}`);
    }
  }
  if (egress.length > 0) {
    out.push("", "**Outside the conduits** (no zone policy, allowlist or store-and-forward):", "");
    for (const e of egress) out.push(`- ${e.node} (${e.file}) sends to ${e.destination}`);
  }
  if (idle.length > 0) out.push("", `Conduits no otb-publish uses: ${idle.join(", ")}.`);
  return out.join("\n").trimEnd();
}

export = command;
