/**
 * The environment the single-line pilot flow reads (${OTB_...} in flows/single-line-pilot.json).
 * Every site-specific value is one of these; the defaults point at the simulator on loopback, so
 * the same flow file runs on a laptop and, with other values, on a plant PC.
 */
import * as path from "path";

export const PILOT_ENV_DEFAULTS: Record<string, string> = {
  // Line identity (otb-line)
  OTB_ENTERPRISE: "acme",
  OTB_SITE: "plant1",
  OTB_AREA: "pumps",
  OTB_LINE: "line1",
  OTB_TIMEZONE: "Europe/Berlin",
  // Sources
  OTB_OPCUA_URL: "opc.tcp://127.0.0.1:4840",
  OTB_MODBUS_HOST: "127.0.0.1",
  OTB_MODBUS_PORT: "5020",
  OTB_MQTT_URL: "mqtt://127.0.0.1:1883",
  // Northbound conduit (the DMZ broker); the embedded broker stands in for it on a laptop
  OTB_CONDUIT_URL: "mqtt://127.0.0.1:1883",
  OTB_CONDUIT_ZONE_FROM: "L2",
  OTB_CONDUIT_ZONE_TO: "DMZ",
  OTB_CONDUIT_QUEUE_DIR: "",
  // Model (otb-infer)
  OTB_MODEL_PATH: "",
  OTB_MODEL_SHA256: "",
};

/** Fills in every pilot variable the caller's environment does not set. */
export function pilotEnv(repoRoot: string, userDir: string, overrides: Record<string, string | undefined>, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(PILOT_ENV_DEFAULTS)) out[k] = base[k] ?? overrides[k] ?? v;
  if (!out.OTB_CONDUIT_QUEUE_DIR) out.OTB_CONDUIT_QUEUE_DIR = path.join(userDir, "conduit-queue");
  if (!out.OTB_MODEL_PATH) out.OTB_MODEL_PATH = path.join(repoRoot, "flows", "models", "pilot-pump.onnx");
  return out;
}
