/**
 * otb-line: the config node that names one production line (ISA-95 enterprise/site/area/line),
 * its time zone, shift calendar and default context. otb-context stamps Signals with it and
 * otb-publish builds UNS topics from it, so a line is renamed in one place.
 */
import { defineNode } from "../shared/define-node";
import type { Node, NodeAPI } from "../shared/red";
import { lineFromConfig, type OtbLineNode } from "./line-config";
import { schema } from "./schema";

export = function (RED: NodeAPI): void {
  defineNode(RED, {
    schema,
    configNode: true,
    create({ node, config }) {
      const { identity, calendar } = lineFromConfig(config);
      Object.assign(node as OtbLineNode, {
        configError: null,
        timeZone: calendar.timeZone,
        calendar,
        identity: () => ({ ...identity }),
        shiftAt: (ts: number) => calendar.at(ts),
      });
      return {};
    },
    failed(node: Node, err: Error) {
      Object.assign(node as OtbLineNode, {
        configError: err.message,
        timeZone: "UTC",
        calendar: null,
        identity: () => ({ enterprise: "", site: "", area: "", line: "" }),
        shiftAt: () => null,
      });
    },
  });
};
