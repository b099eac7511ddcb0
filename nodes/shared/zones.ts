/**
 * The Purdue levels a conduit connects (DESIGN.md "zones"; IEC 62443-3-2 zones and conduits),
 * lowest first: the one list the conduit's schema, its runtime and `otbridge lint` use.
 */
export const ZONES = ["L0", "L1", "L2", "L3", "DMZ", "L4", "L5"] as const;
export type Zone = (typeof ZONES)[number];
