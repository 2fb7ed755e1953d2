import { dirname } from 'node:path';
import { runtimeNodeId } from '@pgfleet/contracts';
import { certInfo, clusterTlsDir, issueNodeCert, nodeCertNames, nodeTlsFiles } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';

export interface ReissueDeps {
  runtime: NodeRuntime;
  /** `PGFLEET_HOME`: where the cluster CA and the node certificates live. */
  home: string;
  /** Validity of the certificates issued, in days; default 365. */
  nodeCertDays?: number;
}

/**
 * A new certificate for one node from the cluster's CA (its usual names plus `extraIps`),
 * replaced atomically in place, valid `days` days (default 365); the node reads it at its next
 * reload. Returns its expiry. Running it again just issues a fresh one.
 */
export async function issueNodeCertificate(
  home: string,
  clusterId: string,
  nodeId: string,
  extraIps: readonly string[] = [],
  days?: number,
): Promise<string> {
  const names = nodeCertNames(clusterId, nodeId);
  const cert = await issueNodeCert({
    caDir: clusterTlsDir(home, clusterId),
    outDir: dirname(nodeTlsFiles(home, clusterId, nodeId).certFile),
    commonName: nodeId,
    dnsNames: names.dnsNames,
    ipAddresses: [...names.ipAddresses, ...extraIps],
    ...(days !== undefined ? { days } : {}),
  });
  return certInfo(cert.certFile).notAfter.toISOString();
}

/**
 * New certificates for these nodes (`issueNodeCertificate`), then each node reloads them (no
 * restart, no session cut). Returns the earliest expiry. Running it again just issues fresh ones.
 */
export async function reissueNodeCerts(
  deps: ReissueDeps,
  clusterId: string,
  nodes: readonly { nodeId: string }[],
  extraIps: readonly string[] = [],
): Promise<string> {
  const expiries: string[] = [];
  for (const { nodeId } of nodes) {
    expiries.push(await issueNodeCertificate(deps.home, clusterId, nodeId, extraIps, deps.nodeCertDays));
    await deps.runtime.reload(runtimeNodeId(clusterId, nodeId));
  }
  return earliest(expiries);
}

/** The earliest of ISO timestamps ('' when none). */
export const earliest = (isoTimes: readonly string[]): string =>
  isoTimes.reduce((a, b) => (a === '' || b < a ? b : a), '');
