/** The shapes shared by the lint engine and its rules. */
import type { Flow, FlowNode } from "./flow-file";

export type Severity = "error" | "warn";
export type SeveritySetting = Severity | "off";

export interface Finding {
  file: string;
  /** The node's id, or "-" for a finding about the whole file. */
  node: string;
  type?: string;
  name?: string;
  rule: string;
  severity: Severity;
  message: string;
}

export interface LintSettings {
  /** Rule id -> severity, after applying the repo's .otbridgerc.json. */
  rules: Record<string, SeveritySetting>;
  /** Extra node types this repo uses (from other packs). */
  knownTypes: ReadonlySet<string>;
  /** Extra folders (relative to the repo root) where relative model and catalog paths are looked up, after the flow's own folder and the repo root. */
  fileRoots: string[];
  /** The repo root: relative model paths and fileRoots resolve against it. */
  root: string;
}

export interface ReportOptions {
  /** This one finding is a warning whatever the rule's severity. */
  downgrade?: boolean;
  /**
   * The field of the node the finding is about. Two rules that find a problem with the same field
   * of the same node (node-config's schema check and a contract rule) have found one cause: the
   * engine keeps one finding (lint.ts oneFindingPerCause).
   */
  field?: string;
}

export interface RuleContext {
  flow: Flow;
  settings: LintSettings;
  /** Reports on a node (or "-" for the file); `true` is `{ downgrade: true }`. */
  report(node: FlowNode | "-", message: string, options?: boolean | ReportOptions): void;
}

export interface Rule {
  id: string;
  /** One line for `otbridge lint --rules` and the README. */
  description: string;
  severity: Severity;
  check(ctx: RuleContext): void;
}
