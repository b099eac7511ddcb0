/**
 * The zone and conduit inventory for a security review: for every otb-publish, which data
 * (tags and message kinds, found by walking the wires upstream to the sources) leaves which
 * zone, for which zone, broker and topic, under what protection. Core network outputs that
 * bypass the conduits are listed too, because a reviewer must see every way out.
 */
import { asData } from "./deep-diff";
import { conduitKinds, conduitProtection, fact, parseZone, publishTopic, referenced } from "./contract-fields";
import { describeNode, isObject, type Flow, type FlowNode } from "./flow-file";

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
}

export interface Egress {
  file: string;
  node: string;
  id: string;
  destination: string;
}

const INGESTION = new Set(["otb-opcua-in", "otb-modbus-in", "otb-mqtt-in"]);
const EGRESS = new Set(["mqtt out", "http request", "websocket out", "tcp out", "tcp request", "udp out"]);

export function inventory(flow: Flow): { routes: ConduitRoute[]; egress: Egress[]; idleConduits: string[] } {
  const feeders = feedersIndex(flow);
  const used = new Set<string>();
  const routes: ConduitRoute[] = [];
  for (const pub of flow.nodes.filter((n) => n.type === "otb-publish")) {
    const conduit = referenced(flow, pub, "otb-conduit")[0];
    if (conduit) used.add(conduit.id);
    const upstream = walkUpstream(flow, feeders, pub);
    const protection = conduit ? conduitProtection(flow, conduit) : null;
    routes.push({
      file: flow.file,
      publisher: describeNode(pub),
      publisherId: pub.id,
      conduit: conduit ? describeNode(conduit) : null,
      from: zoneText(conduit, "conduitSourceZone"),
      to: zoneText(conduit, "conduitTargetZone"),
      broker: protection?.url ?? "(none)",
      protection: protection?.summary ?? "NO CONDUIT",
      topic: conduit?.mode === "sparkplug" ? `spBv1.0/${String(conduit.spGroup || "?")}/NDATA/${String(conduit.spEdgeNode || "?")} (Sparkplug B)` : publishTopic(pub),
      allowlist: conduit ? list(fact(conduit, "conduitAllowlist")?.[1]) : [],
      allowedKinds: conduit ? conduitKinds(conduit) : [],
      kinds: [...upstream.kinds].sort(),
      tags: [...upstream.tags].sort(),
      sources: [...upstream.sources].sort(),
    });
  }
  const egress = flow.nodes
    .filter((n) => EGRESS.has(n.type))
    .map((n) => ({ file: flow.file, node: describeNode(n), id: n.id, destination: destinationOf(flow, n) }));
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

function walkUpstream(flow: Flow, feeders: Map<string, Array<[FlowNode, number]>>, start: FlowNode): { kinds: Set<string>; tags: Set<string>; sources: Set<string> } {
  const kinds = new Set<string>();
  const tags = new Set<string>();
  const sources = new Set<string>();
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
        sources.add(describeNode(from));
        for (const t of tagsOf(from)) tags.add(t);
        continue;
      }
      queue.push([from.id, kindOpen && kind === null]);
    }
  }
  return { kinds, tags, sources };
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

/** Tags named in a node's tables (tag lists, register maps), wherever the form keeps them. */
export function tagsOf(node: FlowNode): string[] {
  const out: string[] = [];
  for (const value of Object.values(node)) {
    const data = asData(value);
    if (Array.isArray(data)) for (const row of data) if (isObject(row) && typeof row.tag === "string") out.push(row.tag);
  }
  if (out.length === 0 && node.type === "otb-mqtt-in") {
    const topics = asData(node.topics);
    if (Array.isArray(topics)) for (const t of topics) if (isObject(t) && typeof t.topic === "string") out.push(`topic ${t.topic}`);
    if (typeof node.topic === "string") out.push(`topic ${node.topic}`);
  }
  return out;
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

function destinationOf(flow: Flow, n: FlowNode): string {
  const broker = typeof n.broker === "string" ? flow.byId.get(n.broker) : undefined;
  if (broker) return `${String(broker.broker ?? "?")}:${String(broker.port ?? "")} topic ${String(n.topic || "(from msg.topic)")}`;
  return String(n.url ?? n.server ?? n.host ?? n.addr ?? "(from the message)");
}
