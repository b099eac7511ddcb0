/** Mocha root hooks: the interop summary printed after every run. */
import { interop } from "./interop";

export const mochaHooks = {
  afterAll(): void {
    if (interop.mosquittoAvailable) {
      console.log(`\n  interop: ${interop.ran} test(s) ran against Debian's mosquitto (${interop.mosquittoStarted} broker start(s))`);
    } else {
      const bar = "!".repeat(78);
      console.log(`\n${bar}\n  MOSQUITTO IS NOT INSTALLED: ${interop.skipped} interop test(s) were SKIPPED.\n  Install it (apt-get install mosquitto) or run .ci/run, which does.\n${bar}`);
    }
  },
};
