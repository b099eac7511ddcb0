/**
 * Operating mode from the stream itself: either a state tag the PLC already has (a number or a
 * string mapped to a mode), or a threshold rule on an analogue tag ("motor current under 2 A
 * means idle") with hysteresis so that a value hovering at the threshold does not flap.
 */
import { ConfigError, MODES, type Mode, type Signal } from "../shared";

export type ModeSourceConfig =
  | { kind: "none" }
  | { kind: "state"; tag: string; map: Record<string, Mode> }
  | { kind: "threshold"; tag: string; threshold: number; hysteresis: number };

export interface ModeDeriver {
  readonly tag: string;
  /** The mode after this Signal of `tag`, or undefined when the Signal says nothing usable. */
  update(signal: Signal): Mode | undefined;
}

export function isMode(v: unknown): v is Mode {
  return typeof v === "string" && (MODES as readonly string[]).includes(v);
}

export function createModeDeriver(config: ModeSourceConfig): ModeDeriver | null {
  switch (config.kind) {
    case "none":
      return null;
    case "state":
      return new StateTagMode(config.tag, config.map);
    case "threshold":
      return new ThresholdMode(config.tag, config.threshold, config.hysteresis);
  }
}

class StateTagMode implements ModeDeriver {
  constructor(readonly tag: string, private readonly map: Record<string, Mode>) {
    for (const [k, m] of Object.entries(map)) if (!isMode(m)) throw new ConfigError(`state value "${k}" maps to unknown mode "${m}"`);
  }

  update(signal: Signal): Mode | undefined {
    if (signal.quality === "bad" || signal.value === null) return undefined;
    const key = String(signal.value);
    if (Object.prototype.hasOwnProperty.call(this.map, key)) return this.map[key];
    // A PLC that already speaks our vocabulary needs no table.
    return isMode(signal.value) ? signal.value : "unknown";
  }
}

class ThresholdMode implements ModeDeriver {
  private last: Mode | undefined;

  constructor(readonly tag: string, private readonly threshold: number, private readonly hysteresis: number) {
    if (!Number.isFinite(threshold)) throw new ConfigError("the idle threshold must be a number");
    if (!(hysteresis >= 0)) throw new ConfigError("hysteresis must be 0 or more");
  }

  update(signal: Signal): Mode | undefined {
    const v = signal.value;
    if (signal.quality === "bad" || typeof v !== "number" || !Number.isFinite(v)) return undefined;
    if (v < this.threshold) this.last = "idle";
    else if (v >= this.threshold + this.hysteresis || this.last === undefined) this.last = "running";
    return this.last;
  }
}
