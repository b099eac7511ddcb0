/**
 * A realistic large flow for timing lint: the pilot fixture cloned for N lines into one file
 * (each line its own tab, config nodes and conduits), about 20 nodes per line.
 */
import { cloneFlow } from "../../cli/flows/cloner";
import { readFlow, type FlowNode } from "../../cli/flows/flow-file";
import { readManifest } from "../../cli/flows/manifest";
import { fixture } from "./cli-run";

export function largeFlow(lines: number): FlowNode[] {
  const template = readFlow(fixture("pilot.json"));
  const manifest = readManifest(fixture("line-2.manifest.json"));
  const out: FlowNode[] = [];
  for (let i = 1; i <= lines; i++) {
    out.push(...cloneFlow(template, { ...manifest, line: { ...manifest.line, id: `line-${i}`, line: `line${i}`, label: `Line ${i}` } }));
  }
  return out;
}
