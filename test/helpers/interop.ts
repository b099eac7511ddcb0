/**
 * The interop tier: tests against Debian's mosquitto. They run whenever the binary is present
 * (.ci/run installs it); when it is absent they are skipped, counted, and the run says so
 * loudly at the end instead of passing quietly.
 *
 * The counts must add up over the whole run. With `mocha --parallel` each test file runs in a
 * worker process, so every count is also appended to the file named by OTB_INTEROP_LOG (set by
 * the global setup in root-hooks.ts, which runs once in mocha's main process and whose
 * environment the workers inherit); the global teardown sums that file.
 */
import * as fs from "fs";

type Counted = "ran" | "skipped" | "mosquittoStarted";

export const interop = {
  mosquittoAvailable: ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"].some((p) => fs.existsSync(p)),
  ran: 0,
  skipped: 0,
  mosquittoStarted: 0,
};

/** Counts one event in this process and, when the run has a log, in the run's log. */
export function countInterop(what: Counted): void {
  interop[what]++;
  const log = process.env.OTB_INTEROP_LOG;
  if (log) fs.appendFileSync(log, `${what}\n`);
}

/** The run's counts from its log (the sum over every worker process). */
export function readInteropLog(log: string): Record<Counted, number> {
  const out: Record<Counted, number> = { ran: 0, skipped: 0, mosquittoStarted: 0 };
  const text = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "";
  for (const line of text.split("\n")) if (line in out) out[line as Counted]++;
  return out;
}

/** The run's interop summary, or a loud warning that the interop tests were skipped. */
export function printInteropSummary(counts: Record<Counted, number>): void {
  if (interop.mosquittoAvailable) {
    console.log(`\n  interop: ${counts.ran} test(s) ran against Debian's mosquitto (${counts.mosquittoStarted} broker start(s))`);
  } else {
    const bar = "!".repeat(78);
    console.log(`\n${bar}\n  MOSQUITTO IS NOT INSTALLED: ${counts.skipped} interop test(s) were SKIPPED.\n  Install it (apt-get install mosquitto) or run .ci/run, which does.\n${bar}`);
  }
}

/** `it` for a test that needs mosquitto. */
export function itWithMosquitto(title: string, fn: (this: Mocha.Context) => Promise<void>): Mocha.Test {
  if (!interop.mosquittoAvailable) {
    countInterop("skipped");
    return it.skip(`[mosquitto] ${title}`);
  }
  return it(`[mosquitto] ${title}`, async function (this: Mocha.Context) {
    countInterop("ran");
    await fn.call(this);
  });
}
