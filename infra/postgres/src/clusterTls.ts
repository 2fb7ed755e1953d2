import { existsSync, mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nodeHostName, runtimeNodeId } from '@pgfleet/contracts';
import { dataRoot } from './dataRoot.js';
import type { NodeTls } from './nodeConfig.js';
import { createClusterCa, issueNodeCert } from './tls.js';

/**
 * Where a cluster's CA lives (`ca.key`, `ca.crt`): `${home}/clusters/{clusterId}/tls`, with the
 * control plane's own state. Nodes never read it: each gets a copy of the CA certificate.
 */
export const clusterTlsDir = (home: string, clusterId: string) => join(home, 'clusters', clusterId, 'tls');

/** Where the nodes' certificates of a cluster live: in the home's data root, which the postgres OS user reaches. */
const nodeCertsDir = (home: string, clusterId: string) => join(dataRoot(home), 'clusters', clusterId, 'tls', 'nodes');

/**
 * Host names and addresses a node's certificate is valid for: the loopback address the
 * gateway(s) bind locally, `localhost`, the gateway host names of the cluster, and the node's
 * host name (`nodeHostName` of its runtime id): the name its peers reach it by where a runtime
 * gives it one (the docker runtime's network alias), so replication verifies it (verify-full) there too.
 */
export function nodeCertNames(clusterId: string, nodeId: string): { dnsNames: string[]; ipAddresses: string[] } {
  return {
    dnsNames: ['localhost', `gw-${clusterId}.pgfleet.local`, nodeHostName(runtimeNodeId(clusterId, nodeId))],
    ipAddresses: ['127.0.0.1'],
  };
}

/**
 * Where a node's key, certificate and CA copy live (known before they are issued):
 * `{data root}/clusters/{clusterId}/tls/nodes/{nodeId}/` (the data root is the home unless the
 * postgres OS user cannot reach it: see dataRoot.ts).
 */
export function nodeTlsFiles(home: string, clusterId: string, nodeId: string): Required<NodeTls> {
  const outDir = join(nodeCertsDir(home, clusterId), nodeId);
  return { keyFile: join(outDir, 'server.key'), certFile: join(outDir, 'server.crt'), caFile: join(outDir, 'ca.crt') };
}

/** The CA, then every node's certificate (in parallel): what a cluster needs before its servers start. */
export async function ensureClusterTls(
  home: string,
  clusterId: string,
  nodeIds: readonly string[],
  options: NodeCertOptions = {},
): Promise<void> {
  await createClusterCa(clusterTlsDir(home, clusterId), clusterId);
  await Promise.all(nodeIds.map((nodeId) => ensureNodeTls(home, clusterId, nodeId, options)));
}

/** How a node certificate is issued: valid `days` days (default 365; the cluster CA lives 3650). */
export interface NodeCertOptions {
  days?: number;
}

/**
 * The cluster CA (created once, never replaced) and this node's certificate (issued once; a
 * rotation replaces it explicitly). Idempotent, so a reconciliation resumed after a crash reuses both.
 */
export async function ensureNodeTls(
  home: string,
  clusterId: string,
  nodeId: string,
  options: NodeCertOptions = {},
): Promise<Required<NodeTls>> {
  const caDir = clusterTlsDir(home, clusterId);
  await createClusterCa(caDir, clusterId);
  const files = nodeTlsFiles(home, clusterId, nodeId);
  const outDir = dirname(files.certFile);
  // The postgres OS user must traverse to its node's directory (ensureOwnedDir makes only the leaf its own).
  mkdirSync(dirname(outDir), { recursive: true, mode: 0o755 });
  if (existsSync(files.keyFile) && existsSync(files.certFile) && existsSync(files.caFile)) return files;
  return issueNodeCert({ caDir, outDir, commonName: nodeId, ...nodeCertNames(clusterId, nodeId), days: options.days });
}

/**
 * Delete a cluster's TLS material once its nodes are gone: the CA in the home and the node
 * certificates in the data root, then the cluster's directories left empty. Idempotent.
 */
export function removeClusterTls(home: string, clusterId: string): void {
  const nodeCerts = nodeCertsDir(home, clusterId);
  for (const dir of [clusterTlsDir(home, clusterId), dirname(nodeCerts)]) {
    rmSync(dir, { recursive: true, force: true });
    try {
      rmdirSync(dirname(dir)); // the cluster's directory, once nothing else of it remains
    } catch {
      /* nodes or gateways remain, or it is gone already */
    }
  }
}
