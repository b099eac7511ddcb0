/**
 * The interop tier: tests against Debian's mosquitto. They run whenever the binary is present
 * (.ci/run installs it); when it is absent they are skipped, counted, and the run says so
 * loudly at the end instead of passing quietly.
 */
import * as fs from "fs";

export const interop = {
  mosquittoAvailable: ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"].some((p) => fs.existsSync(p)),
  ran: 0,
  skipped: 0,
  mosquittoStarted: 0,
};

/** `it` for a test that needs mosquitto. */
export function itWithMosquitto(title: string, fn: (this: Mocha.Context) => Promise<void>): Mocha.Test {
  if (!interop.mosquittoAvailable) {
    interop.skipped++;
    return it.skip(`[mosquitto] ${title}`);
  }
  return it(`[mosquitto] ${title}`, async function (this: Mocha.Context) {
    interop.ran++;
    await fn.call(this);
  });
}
