/**
 * The zone and conduit inventory for a security review: for every otb-publish, which data
 * (tags and message kinds, found by walking the wires upstream to the sources) leaves which
 * zone, for which zone, broker and topic, under what protection. Core network outputs that
 * bypass the conduits are listed too, because a reviewer must see every way out.
 * Tags come from every source an ingestion node has (tag-sources.ts); `${VAR}` values show the
 * flow's own defaults, marked as such (env-resolve.ts); whatever cannot be resolved from the
 * file is listed in `incomplete`, so a short list is never mistaken for a complete one.
 */
import { asData } from "./deep-diff";
import { conduitKinds, conduitProtection, fact, parseZone, publishTopic, referenced } from "./contract-fields";
import { EnvResolver } from "./env-resolve";
import { describeNode, isObject, type Flow, type FlowNode } from "./flow-file";
import { tagSources } from "./tag-sources";

export interface ConduitRoute {
  file: string;
  publisher: string;
  publisherId: string;
  conduit: string | null;
  from: string;
  to: string;
  broker: string;
  protection: string;
  topic: string;
  allowlist: string[];
  allowedKinds: string[];
  kinds: string[];
  tags: string[];
  sources: string[];
  /** Where the tags came from, per source node: "otb-opcua-in 'x': catalog flows/catalog/y.json (13 tags)". */
  tagOrigins: string[];
  /** `${VAR}` values shown with the flow's default: "${OTB_CONDUIT_URL} = ... (global env default)". */
  envDefaults: string[];
  /** What this route's inventory cannot know from the flow file; empty when it is complete. */
  incomplete: string[];
  /** Nodes on the way whose code can reshape the data (function, template): to review by hand. */
  transforms: string[];
}

export interface Egress {
  file: string;
  node: string;
  id: string;
  destination: string;
}

const INGESTION = new Set(["otb-opcua-in", "otb-modbus-in", "otb-mqtt-in"]);
/** Core nodes that bring outside data into a flow with no tag list of their own. */
const CORE_INPUTS = new Set(["mqtt in", "http in", "tcp in", "udp in", "websocket in", "file in", "watch", "serial in", "modbus-read", "OpcUa-Client"]);
/** Nodes whose code or template can reshape what passes through. */
const CODE = new Set(["function", "template", "python-function"]);
const EGRESS = new Set(["mqtt out", "http request", "websocket out", "tcp out", "tcp request", "udp out"]);

export function inventory(flow: Flow): { routes: ConduitRoute[]; egress: Egress[]; idleConduits: string[] } {
  const feeders = feedersIndex(flow);
  const env = new EnvResolver(flow);
  const used = new Set<string>();
  const routes: ConduitRoute[] = [];
  for (const pub of flow.nodes.filter((n) => n.type === "otb-publish")) {
    const conduit = referenced(flow, pub, "otb-conduit")[0];
    if (conduit) used.add(conduit.id);
    const upstream = walkUpstream(flow, feeders, pub, env);
    const resolved = conduit ? env.resolveNode(conduit) : null;
    const pubResolved = env.resolveNode(pub);
    const c = resolved?.node;
    const protection = c ? conduitProtection(flow, c) : null;
    const envDefaults = [...(resolved?.notes ?? []), ...pubResolved.notes, ...upstream.envDefaults];
    const incomplete = [...(resolved?.unresolved ?? []).map((u) => `${describeNode(conduit!)}: ${u}`), ...pubResolved.unresolved.map((u) => `${describeNode(pub)}: ${u}`), ...upstream.incomplete];
    routes.push({
      file: flow.file,
      publisher: describeNode(pub),
      publisherId: pub.id,
      conduit: conduit ? describeNode(conduit) : null,
      from: zoneText(c, "conduitSourceZone"),
      to: zoneText(c, "conduitTargetZone"),
      broker: marked(protection?.url ?? "(none)", resolved?.notes.length ? conduit : undefined, "conduitBroker"),
      protection: (protection?.summary ?? "NO CONDUIT") + (resolved?.notes.length ? " (with the flow's env defaults)" : ""),
      topic: c?.mode === "sparkplug" ? `spBv1.0/${String(c.spGroup || "?")}/NDATA/${String(c.spEdgeNode || "?")} (Sparkplug B)` : publishTopic(pubResolved.node),
      allowlist: c ? list(fact(c, "conduitAllowlist")?.[1]) : [],
      allowedKinds: c ? conduitKinds(c) : [],
      kinds: [...upstream.kinds].sort(),
      tags: [...upstream.tags].sort(),
      sources: [...upstream.sources].sort(),
      tagOrigins: upstream.origins,
      transforms: [...upstream.transforms].sort(),
      envDefaults: [...new Set(envDefaults)],
      incomplete: [...new Set(incomplete)],
    });
  }
  const egress = flow.nodes
    .filter((n) => EGRESS.has(n.type))
    .map((n) => ({ file: flow.file, node: describeNode(n), id: n.id, destination: destinationOf(flow, n, env) }));
  const idleConduits = flow.nodes.filter((n) => n.type === "otb-conduit" && !used.has(n.id)).map(describeNode);
  return { routes, egress, idleConduits };
}

/** id -> [(node that wires into it, output port)] including link out -> link in jumps. */
function feedersIndex(flow: Flow): Map<string, Array<[FlowNode, number]>> {
  const index = new Map<string, Array<[FlowNode, number]>>();
  const add = (target: string, from: FlowNode, port: number): void => {
    if (!index.has(target)) index.set(target, []);
    index.get(target)!.push([from, port]);
  };
  for (const n of flow.nodes) {
    if (Array.isArray(n.wires)) n.wires.forEach((ids, port) => Array.isArray(ids) && ids.forEach((id) => add(id, n, port)));
    if (n.type === "link out" && Array.isArray(n.links)) for (const id of n.links) if (typeof id === "string") add(id, n, 0);
  }
  return index;
}

interface Upstream {
  kinds: Set<string>;
  tags: Set<string>;
  sources: Set<string>;
  origins: string[];
  envDefaults: string[];
  incomplete: string[];
  transforms: Set<string>;
}

function walkUpstream(flow: Flow, feeders: Map<string, Array<[FlowNode, number]>>, start: FlowNode, env: EnvResolver): Upstream {
  const kinds = new Set<string>();
  const tags = new Set<string>();
  const sources = new Set<string>();
  const origins: string[] = [];
  const envDefaults: string[] = [];
  const incomplete: string[] = [];
  const transforms = new Set<string>();
  const seen = new Set<string>();
  // The nearest otb node upstream decides the message kind; beyond it the walk only gathers
  // the tags and sources the data was derived from.
  const queue: Array<[string, boolean]> = [[start.id, true]];
  while (queue.length > 0) {
    const [id, kindOpen] = queue.shift()!;
    for (const [from, port] of feeders.get(id) ?? []) {
      const key = `${from.id}:${port}:${kindOpen}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const kind = kindOpen ? kindOf(from, port) : null;
      if (kind) kinds.add(kind);
      if (INGESTION.has(from.type)) {
        if (sources.has(describeNode(from)) && seen.has(`source:${from.id}`)) continue;
        seen.add(`source:${from.id}`);
        sources.add(describeNode(from));
        const found = tagSources(from, flow.file, env);
        for (const t of found.tags) tags.add(t);
        origins.push(`${describeNode(from)}: ${found.from.join(", ") || "no tags"}`);
        envDefaults.push(...found.envDefaults);
        incomplete.push(...found.incomplete);
        continue;
      }
      if (CORE_INPUTS.has(from.type) && !sources.has(describeNode(from))) {
        sources.add(describeNode(from));
        incomplete.push(`${describeNode(from)} feeds this publisher with outside data that has no tag list`);
      } else if (from.type === "inject" || from.type === "catch" || from.type === "status") {
        sources.add(describeNode(from));
      }
      if (CODE.has(from.type)) transforms.add(describeNode(from));
      queue.push([from.id, kindOpen && kind === null]);
    }
  }
  return { kinds, tags, sources, origins, envDefaults, incomplete, transforms };
}

/** A value from the flow's env, followed by the reference it came from. */
function marked(value: string, node: FlowNode | undefined, field: "conduitBroker"): string {
  const raw = node ? fact(node, field)?.[1] : undefined;
  return typeof raw === "string" && raw.trim().startsWith("${") && raw.trim() !== value ? `${value} (default of ${raw.trim()})` : value;
}

/** What an otb node sends on `port`, or null for nodes that pass messages through (function, change, link...). */
function kindOf(node: FlowNode, port: number): string | null {
  switch (node.type) {
    case "otb-infer":
      return port === 0 ? "inference" : "alarms, verdicts, alarm KPIs, drift, model events";
    case "otb-window":
      return "features";
    case "otb-validate":
      return port === 0 ? "signals (validated)" : port === 1 ? "signals (quarantined)" : "quality summaries";
    case "otb-context":
      return port === 0 ? "signals (contextualised)" : "context events";
    case "otb-oee":
      return port === 0 ? "KPIs (OEE, value)" : "signals (not used for OEE)";
    case "otb-spc":
      return port === 0 ? "KPIs (SPC points, capability)" : port === 1 ? "SPC rule events" : "signals (not charted)";
    default:
      return INGESTION.has(node.type) ? "signals (raw)" : null;
  }
}

function zoneText(conduit: FlowNode | undefined, which: "conduitSourceZone" | "conduitTargetZone"): string {
  if (!conduit) return "?";
  const raw = fact(conduit, which)?.[1];
  return parseZone(raw) ?? (raw === undefined ? "?" : `${String(raw)} (invalid)`);
}

function list(value: unknown): string[] {
  const data = asData(value);
  if (Array.isArray(data)) return data.map((x) => (isObject(x) ? String(x.topic ?? x.pattern ?? JSON.stringify(x)) : String(x)));
  if (typeof data === "string") return data.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
  if (isObject(data)) return Object.entries(data).filter(([, v]) => v === true || v === "true").map(([k]) => k);
  return [];
}

function destinationOf(flow: Flow, n: FlowNode, env: EnvResolver): string {
  const node = env.resolveNode(n);
  const ref = typeof n.broker === "string" ? flow.byId.get(n.broker) : undefined;
  const marks = [...node.notes];
  let text: string;
  if (ref) {
    const broker = env.resolveNode(ref);
    marks.push(...broker.notes);
    text = `${String(broker.node.broker ?? "?")}:${String(broker.node.port ?? "")} topic ${String(node.node.topic || "(from msg.topic)")}`;
  } else {
    text = String(node.node.url ?? node.node.server ?? node.node.host ?? node.node.addr ?? "(from the message)");
  }
  return marks.length ? `${text} (with the flow's env defaults: ${marks.join("; ")})` : text;
}
