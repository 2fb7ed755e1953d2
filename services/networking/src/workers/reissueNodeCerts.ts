import { dirname } from 'node:path';
import { runtimeNodeId } from '@pgfleet/contracts';
import { certInfo, clusterTlsDir, issueNodeCert, nodeCertNames, nodeTlsFiles } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';

export interface ReissueDeps {
  runtime: NodeRuntime;
  /** `PGFLEET_HOME`: where the cluster CA and the node certificates live. */
  home: string;
}

/**
 * New certificates for these nodes from the cluster's CA (its usual names plus `extraIps`),
 * replaced atomically in place, then each node reloads them (no restart, no session cut).
 * Returns the new certificates' expiry. Running it again just issues fresh ones.
 */
export async function reissueNodeCerts(
  deps: ReissueDeps,
  clusterId: string,
  nodes: readonly { nodeId: string }[],
  extraIps: readonly string[] = [],
): Promise<string> {
  const caDir = clusterTlsDir(deps.home, clusterId);
  const names = nodeCertNames(clusterId);
  let notAfter = '';
  for (const { nodeId } of nodes) {
    const outDir = dirname(nodeTlsFiles(deps.home, clusterId, nodeId).certFile);
    const ipAddresses = [...names.ipAddresses, ...extraIps];
    const cert = await issueNodeCert({ caDir, outDir, commonName: nodeId, dnsNames: names.dnsNames, ipAddresses });
    notAfter = certInfo(cert.certFile).notAfter.toISOString();
    await deps.runtime.reload(runtimeNodeId(clusterId, nodeId));
  }
  return notAfter;
}
