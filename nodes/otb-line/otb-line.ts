/**
 * otb-line: the config node that names one production line (ISA-95 enterprise/site/area/line),
 * its time zone, shift calendar and default context. otb-context stamps Signals with it and
 * otb-publish builds UNS topics from it, so a line is renamed in one place.
 */
import { reportError, ShiftCalendar, type Context } from "../shared";
import type { Node, NodeAPI, NodeDef } from "../shared/red";
import { parseLineConfig, type OtbLineDef, type OtbLineNode } from "./line-config";

export = function (RED: NodeAPI): void {
  function OtbLine(this: OtbLineNode, def: OtbLineDef): void {
    RED.nodes.createNode(this, def);
    this.users = {};
    this.configError = null;
    let identity: Context = { enterprise: "", site: "", area: "", line: "" };
    let calendar: ShiftCalendar | null = null;
    try {
      ({ identity, calendar } = parseLineConfig(def));
    } catch (err) {
      this.configError = (err as Error).message;
      reportError(this, err, { payload: null, line: def.name || def.id });
    }
    this.timeZone = calendar?.timeZone ?? "UTC";
    this.identity = () => ({ ...identity });
    this.shiftAt = (ts: number) => (calendar ? calendar.at(ts) : null);
    this.calendar = calendar;
  }
  RED.nodes.registerType("otb-line", OtbLine as unknown as (this: Node, def: NodeDef) => void);
};
