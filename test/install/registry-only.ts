/**
 * Preloaded (NODE_OPTIONS=--require) into npm, its install scripts and Node-RED by the install
 * test: every Node.js process of the install may resolve only the registry's host (and loopback),
 * as on a plant PC behind a registry mirror. Other names fail as an offline DNS would (ENOTFOUND),
 * which is how onnxruntime-node's postinstall fails there (getaddrinfo ENOTFOUND api.nuget.org).
 * Allowed hosts: OTB_TEST_ALLOWED_HOSTS, comma separated.
 */
import dns = require("dns");

const allowed = new Set(
  (process.env.OTB_TEST_ALLOWED_HOSTS ?? "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean).concat(["localhost"]),
);

function refused(hostname: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname} (install test: only the npm registry is reachable)`);
  err.code = "ENOTFOUND";
  err.syscall = "getaddrinfo";
  (err as { hostname?: string }).hostname = hostname;
  return err;
}

const isIp = (h: string): boolean => /^[\d.]+$/.test(h) || h.includes(":");
const ok = (hostname: string): boolean => !hostname || isIp(hostname) || allowed.has(String(hostname).toLowerCase());

const lookup = dns.lookup;
(dns as { lookup: unknown }).lookup = function (hostname: string, ...rest: unknown[]) {
  const callback = rest[rest.length - 1] as (err: Error | null) => void;
  if (!ok(hostname)) {
    process.nextTick(() => callback(refused(hostname)));
    return {};
  }
  return (lookup as (...a: unknown[]) => unknown).call(dns, hostname, ...rest);
};
const promisesLookup = dns.promises.lookup;
(dns.promises as { lookup: unknown }).lookup = function (hostname: string, ...rest: unknown[]) {
  if (!ok(hostname)) return Promise.reject(refused(hostname));
  return (promisesLookup as (...a: unknown[]) => Promise<unknown>).call(dns.promises, hostname, ...rest);
};
