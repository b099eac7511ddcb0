/**
 * Security rules from DESIGN.md "Zones and conduits": secret-free flow JSON, conduits that go
 * from the flow's zone to exactly one higher zone, TLS with a verified server and MQTT 5 into
 * L4/L5, every otb-publish bound to a conduit, and no data leaving around the conduits.
 */
import { conduitProtection, fact, FIELD_CANDIDATES, parseZone, referenced, zoneRank, type Zone } from "./contract-fields";
import { configRefs } from "./config-refs";
import type { Rule } from "./lint-types";
import { findSecrets } from "./secrets";

export const noSecrets: Rule = {
  id: "no-secrets",
  description: "credentials, literal passwords/tokens/API keys or private keys in flow JSON",
  severity: "error",
  check({ flow, report }) {
    for (const node of flow.nodes) {
      for (const s of findSecrets(node)) report(node, `${s.path} holds ${s.what}; keep secrets in Node-RED credentials or \${ENV_VAR}`);
    }
  },
};

export const conduitZones: Rule = {
  id: "conduit-zones",
  description: "an otb-conduit must go from the flow's zone to a higher zone (L0..L3, DMZ, L4, L5)",
  severity: "error",
  check({ flow, report }) {
    const sources = new Map<Zone, string>();
    for (const node of flow.nodes.filter((n) => n.type === "otb-conduit")) {
      const from = fact(node, "conduitSourceZone");
      const to = fact(node, "conduitTargetZone");
      const source = from ? parseZone(from[1]) : null;
      const target = to ? parseZone(to[1]) : null;
      // The fields, so that node-config's schema check of the same field is not a second finding.
      const sourceField = { field: from?.[0] ?? FIELD_CANDIDATES.conduitSourceZone[0] };
      const targetField = { field: to?.[0] ?? FIELD_CANDIDATES.conduitTargetZone[0] };
      if (!from) report(node, `no source zone (one of ${FIELD_CANDIDATES.conduitSourceZone.join(", ")})`, sourceField);
      else if (!source) report(node, `source zone "${String(from[1])}" is not one of L0, L1, L2, L3, DMZ, L4, L5`, sourceField);
      if (!to) report(node, `no target zone (one of ${FIELD_CANDIDATES.conduitTargetZone.join(", ")})`, targetField);
      else if (!target) report(node, `target zone "${String(to[1])}" is not one of L0, L1, L2, L3, DMZ, L4, L5`, targetField);
      if (source && target && zoneRank(target) <= zoneRank(source)) {
        report(node, `goes from ${source} to ${target}: a conduit only goes upward, to a higher zone`, targetField);
      }
      if (source && !sources.has(source)) sources.set(source, node.id);
    }
    if (sources.size > 1) {
      report("-", `conduits start from different zones (${[...sources.keys()].join(", ")}); a flow runs in one zone`);
    }
  },
};

export const conduitTls: Rule = {
  id: "conduit-tls",
  description: "a conduit into L4 or L5 needs TLS (mqtts/wss) with server verification and MQTT 5",
  severity: "error",
  check({ flow, report }) {
    for (const node of flow.nodes.filter((n) => n.type === "otb-conduit")) {
      const to = fact(node, "conduitTargetZone");
      const target = to ? parseZone(to[1]) : null;
      if (target !== "L4" && target !== "L5") continue;
      const p = conduitProtection(flow, node);
      // A ${VAR} broker or version is decided at deploy; the conduit itself refuses to start
      // into L4/L5 without TLS and MQTT 5, so lint says what it cannot see, as a warning.
      const broker = { field: FIELD_CANDIDATES.conduitBroker[0] };
      const protocol = { field: FIELD_CANDIDATES.conduitProtocol[0] };
      if (p.tls === false) report(node, `goes into ${target} without TLS (broker ${p.plain.join(", ") || p.url || "not set"}; use mqtts:// or wss://${p.plain.length && p.shown.endsWith("brokers") ? " for every broker" : ""})`, broker);
      else if (p.tls === null) report(node, `goes into ${target} over broker ${p.url}: TLS cannot be checked here (the conduit refuses to start without it)`, { ...broker, downgrade: true });
      if (p.tls !== false && p.verify === false) report(node, `goes into ${target} without verifying the broker's certificate`, { field: FIELD_CANDIDATES.conduitVerify[0] });
      if (p.protocol === null) report(node, `goes into ${target} with the MQTT version from ${String(fact(node, "conduitProtocol")?.[1])}: it must be 5, which lint cannot check here`, { ...protocol, downgrade: true });
      else if (p.protocol !== 5) report(node, `goes into ${target} over MQTT ${p.protocol === 4 ? "3.1.1" : String(p.protocol)}; MQTT 5 is required (a 3.1.1 broker acknowledges publishes its ACL drops)`, protocol);
    }
  },
};

export const publishConduit: Rule = {
  id: "publish-conduit",
  description: "every otb-publish references an otb-conduit that exists in the file",
  severity: "error",
  check({ flow, report }) {
    for (const node of flow.nodes.filter((n) => n.type === "otb-publish")) {
      const fields = configRefs(node).filter((r) => r.type === "otb-conduit").map((r) => r.field);
      const ids = fields.map((f) => node[f]).filter((v) => typeof v === "string" && v !== "");
      if (ids.length === 0) report(node, "publishes through no conduit; select an otb-conduit");
      else if (referenced(flow, node, "otb-conduit").length === 0) report(node, `conduit ${String(ids[0])} is not an otb-conduit in this file`);
    }
  },
};

/** Core nodes that send data off the machine without a conduit's allowlist, TLS rule or queue. */
const EGRESS_TYPES = new Set(["mqtt out", "http request", "websocket out", "tcp out", "tcp request", "udp out"]);

export const unmanagedEgress: Rule = {
  id: "unmanaged-egress",
  description: "a core network output sends data out without going through an otb-conduit",
  severity: "warn",
  check({ flow, report }) {
    for (const node of flow.nodes.filter((n) => EGRESS_TYPES.has(n.type))) {
      report(node, "sends data out around the conduits (no zone policy, allowlist or store-and-forward)");
    }
  },
};
