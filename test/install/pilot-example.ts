/**
 * Import > Examples > node-red-contrib-otbridge > "13 - Single-line pilot" is the pilot flow
 * (flows/single-line-pilot.json) with an explaining comment first, as every example starts.
 * Generated, never edited by hand: `node dist/test/install/pilot-example.js --write` rewrites it,
 * and examples.test.ts fails when it drifts from the pilot.
 *
 * Its dashboard need is declared the way Node-RED 4 declares a flow's modules: the pilot's
 * global-config node carries `modules: {"@flowfuse/node-red-dashboard": <version>}`, which the
 * editor reads on import to offer "Install all" for modules the palette lacks.
 */
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../cli/node-red-runner";

export const PILOT_FLOW = path.join(REPO_ROOT, "flows", "single-line-pilot.json");
export const PILOT_EXAMPLE = path.join(REPO_ROOT, "examples", "13 - Single-line pilot.json");

interface FlowNode {
  id: string;
  type: string;
  z?: string;
  y?: number;
  [k: string]: unknown;
}

const INFO = `**The single-line pilot**, as \`npm start\` runs it in the repository: OPC UA, Modbus and MQTT ingestion → otb-validate → otb-context → otb-window → otb-infer (the shipped pump model, pinned by sha256) → otb-publish through a one-way conduit, with a dashboard at /dashboard.

**Before deploying**
- The dashboard tab needs \`@flowfuse/node-red-dashboard\`. This flow declares it (its global-config node lists the module, as Node-RED 4 does on export), so the import notice offers **Install all**; or install it from Manage palette. Node-RED starts no flow while a node type is missing.
- Every site value is an environment variable with a default (Settings > Environment, or \`OTB_...\` in Node-RED's environment): PLC endpoint and certificate pin, Modbus host, MQTT broker, conduit broker and topics.
- File defaults are relative to the Node-RED user folder and point into this pack (\`node_modules/node-red-contrib-otbridge/flows/...\`): the rule catalog, the Modbus register map and the model with its card.
- Without real devices, \`npx otbridge simulate\` in the user folder starts a simulated line on the default ports.`;

/** The example built from the pilot flow: the tab, an explaining comment, then the pilot's nodes unchanged. */
export function buildPilotExample(pilot: FlowNode[] = JSON.parse(fs.readFileSync(PILOT_FLOW, "utf8"))): FlowNode[] {
  const tab = pilot.find((n) => n.type === "tab");
  if (!tab) throw new Error("the pilot flow has no tab");
  const maxY = Math.max(...pilot.filter((n) => n.z === tab.id && typeof n.y === "number").map((n) => n.y as number));
  const intro: FlowNode = { id: "ex09.intro", type: "comment", z: tab.id, name: "Single-line pilot: read me first", info: INFO, x: 190, y: maxY + 80, wires: [] };
  return [tab, intro, ...pilot.filter((n) => n !== tab)];
}

export function pilotExampleText(): string {
  return JSON.stringify(buildPilotExample(), null, 4) + "\n";
}

if (require.main === module && process.argv.includes("--write")) {
  fs.writeFileSync(PILOT_EXAMPLE, pilotExampleText());
  console.log(`wrote ${path.relative(REPO_ROOT, PILOT_EXAMPLE)}`);
}
