import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeTls } from './nodeConfig.js';
import { createClusterCa, issueNodeCert } from './tls.js';

/** Where a cluster's TLS material lives: the CA in `tls/`, each node's cert in `tls/nodes/{nodeId}/`. */
export const clusterTlsDir = (home: string, clusterId: string) => join(home, 'clusters', clusterId, 'tls');

/**
 * Host names and addresses a node's certificate is valid for: the loopback address the
 * gateway(s) bind locally, `localhost`, and the gateway host names of the cluster.
 */
export function nodeCertNames(clusterId: string): { dnsNames: string[]; ipAddresses: string[] } {
  return { dnsNames: ['localhost', `gw-${clusterId}.pgfleet.local`], ipAddresses: ['127.0.0.1'] };
}

/** Where a node's key, certificate and CA copy live (known before they are issued). */
export function nodeTlsFiles(home: string, clusterId: string, nodeId: string): Required<NodeTls> {
  const outDir = join(clusterTlsDir(home, clusterId), 'nodes', nodeId);
  return { keyFile: join(outDir, 'server.key'), certFile: join(outDir, 'server.crt'), caFile: join(outDir, 'ca.crt') };
}

/** The CA, then every node's certificate (in parallel): what a cluster needs before its servers start. */
export async function ensureClusterTls(home: string, clusterId: string, nodeIds: readonly string[]): Promise<void> {
  await createClusterCa(clusterTlsDir(home, clusterId), clusterId);
  await Promise.all(nodeIds.map((nodeId) => ensureNodeTls(home, clusterId, nodeId)));
}

/**
 * The cluster CA (created once, never replaced) and this node's certificate (issued once; a
 * rotation replaces it explicitly). Idempotent, so a reconciliation resumed after a crash reuses both.
 */
export async function ensureNodeTls(home: string, clusterId: string, nodeId: string): Promise<Required<NodeTls>> {
  const caDir = clusterTlsDir(home, clusterId);
  await createClusterCa(caDir, clusterId);
  // The postgres OS user must traverse to its node's directory (ensureOwnedDir makes only the leaf its own).
  mkdirSync(join(caDir, 'nodes'), { recursive: true, mode: 0o755 });
  const outDir = join(caDir, 'nodes', nodeId);
  const files = nodeTlsFiles(home, clusterId, nodeId);
  if (existsSync(files.keyFile) && existsSync(files.certFile) && existsSync(files.caFile)) return files;
  return issueNodeCert({ caDir, outDir, commonName: nodeId, ...nodeCertNames(clusterId) });
}
