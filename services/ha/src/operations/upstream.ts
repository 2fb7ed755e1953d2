import { runtimeNodeId, secretRefs } from '@pgfleet/contracts';
import { OperationFailure } from '@pgfleet/kit';
import type { UpstreamLeader } from '@pgfleet/runtime';
import type { HaDeps } from './failover.js';

/** The replication role every cluster's followers stream as (provisioning creates it). */
const REPLICATION_USER = 'replicator';

/** `leader` as its followers reach it: its peer address, the replication role, verify-full when nodes have TLS. */
export async function upstreamOf(deps: HaDeps, clusterId: string, leader: string): Promise<UpstreamLeader> {
  const password = await deps.secrets.get(secretRefs.replication(clusterId));
  if (!password) throw new OperationFailure('repoint', "the cluster's replication password is missing");
  return {
    ...(await deps.runtime.peerAddress(runtimeNodeId(clusterId, leader))),
    user: REPLICATION_USER,
    password,
    ...(deps.home ? { sslmode: 'verify-full' } : {}),
  };
}
