/**
 * What the editor asks the runtime about a server: the endpoints it offers with their
 * certificates (so the user can compare the fingerprint with the plant's records and pin it),
 * and its address space (so tags can be picked instead of typed).
 */
import {
  BrowseDirection,
  MessageSecurityMode,
  NodeClass,
  NodeClassMask,
  OPCUAClient,
  SecurityPolicy,
  UserTokenType,
  resolveNodeId,
  type BrowseResult,
  type ClientSession,
  type ReferenceDescription,
} from "node-opcua-client";
import { ConfigError } from "../shared";
import { isEndpointUrl } from "./endpoint-config";
import { bounded } from "./opcua-endpoint";
import { describeCertificate, PinningCertificateManager } from "./pinning-certificate-manager";

export interface OfferedEndpoint {
  endpointUrl: string;
  securityMode: string;
  securityPolicy: string;
  userTokens: string[];
  certificate: { sha1: string; sha256: string; subject: string; validTo: string } | null;
}

/** GetEndpoints over an unsecured discovery channel: nothing is trusted or sent but the request. */
export async function probeEndpoints(endpointUrl: string, pkiDir: string, timeoutMs = 5_000): Promise<OfferedEndpoint[]> {
  if (!isEndpointUrl(endpointUrl)) throw new ConfigError(`"${endpointUrl}" is not an opc.tcp:// URL`);
  const certificates = new PinningCertificateManager(pkiDir, []);
  await certificates.initialize();
  const client = OPCUAClient.create({
    applicationName: "otbridge",
    clientCertificateManager: certificates,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    transportTimeout: timeoutMs,
    defaultTransactionTimeout: timeoutMs,
  });
  try {
    await withTimeout(client.connect(endpointUrl), timeoutMs, `no answer from ${endpointUrl} within ${timeoutMs} ms`);
    const endpoints = await withTimeout(client.getEndpoints(), timeoutMs, "GetEndpoints timed out");
    return endpoints.map((e) => ({
      endpointUrl: e.endpointUrl ?? endpointUrl,
      securityMode: MessageSecurityMode[e.securityMode],
      securityPolicy: (e.securityPolicyUri ?? "").split("#")[1] ?? "",
      userTokens: (e.userIdentityTokens ?? []).map((t) => UserTokenType[t.tokenType]),
      certificate: e.serverCertificate && e.serverCertificate.length > 0 ? describeCertificate(e.serverCertificate) : null,
    }));
  } finally {
    await bounded(client.disconnect(), 2_000);
    await bounded(certificates.dispose(), 2_000);
  }
}

export interface BrowseEntry {
  nodeId: string;
  browseName: string;
  displayName: string;
  nodeClass: string;
  /** Objects can be expanded; variables can be added as tags. */
  expandable: boolean;
}

const MAX_BROWSE_ENTRIES = 5_000;

/** The hierarchical children of `nodeId` (Objects folder by default), following continuation points. */
export async function browseChildren(session: ClientSession, nodeId: string | undefined): Promise<BrowseEntry[]> {
  let start;
  try {
    start = resolveNodeId(nodeId && nodeId.trim() ? nodeId.trim() : "ObjectsFolder");
  } catch {
    throw new ConfigError(`"${nodeId}" is not a node id`);
  }
  const refs: ReferenceDescription[] = [];
  let result: BrowseResult = await session.browse({
    nodeId: start,
    referenceTypeId: "HierarchicalReferences",
    includeSubtypes: true,
    browseDirection: BrowseDirection.Forward,
    nodeClassMask: NodeClassMask.Object | NodeClassMask.Variable,
    resultMask: 63,
  });
  if (result.statusCode.isNotGood()) throw new ConfigError(`browse ${start.toString()}: ${result.statusCode.name}`);
  refs.push(...(result.references ?? []));
  while (result.continuationPoint && refs.length < MAX_BROWSE_ENTRIES) {
    result = await session.browseNext(result.continuationPoint, false);
    refs.push(...(result.references ?? []));
  }
  if (result.continuationPoint) await session.browseNext(result.continuationPoint, true).catch(() => undefined);
  return refs.map((r) => ({
    nodeId: r.nodeId.toString(),
    browseName: r.browseName.toString(),
    displayName: r.displayName?.text ?? r.browseName.name ?? "",
    nodeClass: NodeClass[r.nodeClass] ?? String(r.nodeClass),
    expandable: r.nodeClass === NodeClass.Object,
  }));
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
  ]);
}
