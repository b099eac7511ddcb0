/** Structural rules: the flow loads into Node-RED as the author meant it. */
import { isContainer, type FlowNode } from "./flow-file";
import { isKnownType } from "./known-types";
import { configRefs } from "./config-refs";
import type { Rule } from "./lint-types";

export const duplicateId: Rule = {
  id: "duplicate-id",
  description: "two nodes share an id (Node-RED keeps only one of them)",
  severity: "error",
  check({ flow, report }) {
    const seen = new Map<string, FlowNode>();
    for (const node of flow.nodes) {
      const first = seen.get(node.id);
      if (first) report(node, `id is also used by ${first.type}${first.name ? ` '${first.name}'` : ""}`);
      else seen.set(node.id, node);
    }
  },
};

export const unknownType: Rule = {
  id: "unknown-type",
  description: "node type is not core Node-RED, otb-*, Dashboard 2 ui-*, a local subflow or listed in knownTypes",
  severity: "error",
  check({ flow, settings, report }) {
    const subflows = new Set(flow.nodes.filter((n) => n.type === "subflow").map((n) => n.id));
    for (const node of flow.nodes) {
      if (!isKnownType(node.type, subflows, settings.knownTypes)) {
        report(node, `unknown node type "${node.type}" (add it to knownTypes in .otbridgerc.json if another pack provides it)`);
      }
    }
  },
};

export const missingConfig: Rule = {
  id: "missing-config",
  description: "a config-node reference is empty where required, or points to a node that is not in the file",
  severity: "error",
  check({ flow, report }) {
    for (const node of flow.nodes) {
      for (const ref of configRefs(node)) {
        if (node.type === "otb-publish" && ref.type === "otb-conduit") continue; // publish-conduit says it
        const value = node[ref.field];
        // A flow saved before the config node type existed holds the setting itself (otb-mqtt-in's
        // broker URL): the schema's legacyValue, which the runtime and the editor accept too.
        if (ref.legacyValue && new RegExp(ref.legacyValue).test(String(value ?? ""))) continue;
        if (value === undefined || value === null || value === "") {
          if (ref.required) report(node, `no ${ref.type} selected in "${ref.field}"`);
          continue;
        }
        const target = typeof value === "string" ? flow.byId.get(value) : undefined;
        if (!target) report(node, `"${ref.field}" refers to ${ref.type} ${String(value)}, which is not in this file`);
        else if (target.type !== ref.type) report(node, `"${ref.field}" refers to ${target.type} ${target.id}, expected a ${ref.type}`);
      }
    }
  },
};

export const danglingWire: Rule = {
  id: "dangling-wire",
  description: "a wire, link, group or tab reference points to a node that is not in the file",
  severity: "error",
  check({ flow, report }) {
    for (const node of flow.nodes) {
      if (Array.isArray(node.wires)) {
        node.wires.forEach((port, i) => {
          if (!Array.isArray(port)) return report(node, `output ${i + 1} is not a list of node ids`);
          for (const target of port) if (!flow.byId.has(target)) report(node, `output ${i + 1} is wired to ${String(target)}, which is not in this file`);
        });
      } else if (node.wires !== undefined) {
        report(node, "wires is not a list of outputs");
      }
      if (node.type === "subflow") {
        for (const target of subflowPortTargets(node)) if (!flow.byId.has(target)) report(node, `subflow port is wired to ${target}, which is not in this file`);
      }
      if (Array.isArray(node.links)) {
        for (const target of node.links) if (typeof target === "string" && !flow.byId.has(target)) report(node, `link to ${target}, which is not in this file`);
      }
      if (typeof node.z === "string" && node.z && !isContainerId(flow.byId.get(node.z))) report(node, `belongs to flow ${node.z}, which is not in this file`);
      if (typeof node.g === "string" && flow.byId.get(node.g)?.type !== "group") report(node, `belongs to group ${node.g}, which is not in this file`);
    }
  },
};

function isContainerId(node: FlowNode | undefined): boolean {
  return node !== undefined && isContainer(node);
}

/** Ids a subflow definition's in/out/status ports are wired to ({id} objects). */
function subflowPortTargets(node: FlowNode): string[] {
  const ports = [node.in, node.out, node.status].flatMap((p) => (Array.isArray(p) ? p : p ? [p] : []));
  const out: string[] = [];
  for (const p of ports) {
    const wires = (p as { wires?: unknown }).wires;
    if (Array.isArray(wires)) for (const w of wires) if (typeof (w as { id?: unknown })?.id === "string") out.push((w as { id: string }).id);
  }
  return out;
}
