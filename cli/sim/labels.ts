/**
 * Ground-truth labels: one JSON line per fault occurrence, appended to the labels file the moment
 * the fault starts (or, for an OPC UA restart with a real server running, the moment the server is
 * back and the real down time is known), so a consumer tailing the file sees faults as they happen.
 * A fault still active when the simulator stops keeps its scheduled end (it may lie after the stop).
 * Line: {"fault","tag","tags","start","end","startIso","endIso","scenario","seed","id","params"};
 * start/end are simulated-time ms since epoch, the same time line as every published value.
 */
import * as fs from "fs";
import * as path from "path";

export interface Label {
  id: number;
  fault: string;
  /** The primary tag, device ("meter1"), sensor ("vib-nde") or server ("opcua") affected. */
  tag: string;
  /** Every tag whose values the fault changes. */
  tags: string[];
  start: number;
  end: number;
  startIso: string;
  endIso: string;
  scenario: string;
  seed: number;
  params?: Record<string, unknown>;
}

export class LabelWriter {
  private readonly written: Label[] = [];
  private fd: number | null = null;

  constructor(readonly file?: string) {
    if (file) {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      // Truncate: one run, one ground truth. Sync appends keep lines whole and ordered on a crash.
      this.fd = fs.openSync(file, "w");
    }
  }

  write(label: Label): void {
    this.written.push(label);
    if (this.fd !== null) fs.writeSync(this.fd, JSON.stringify(label) + "\n");
  }

  all(): Label[] {
    return [...this.written];
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Reads a labels file back (tests, tools). */
export function readLabels(file: string): Label[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Label);
}
