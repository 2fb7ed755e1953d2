import {
  archiveSetupOf,
  findPlan,
  parameterSettingsOf,
  runtimeNodeId,
  secretRefs,
  slotName,
  type ClusterView,
} from '@pgfleet/contracts';
import { nodeTlsFiles, withClient, type SecretStore } from '@pgfleet/postgres';
import type { NodeRuntime, NodeSetup, UpstreamLeader } from './port.js';

/**
 * How the platform sets up a node of a cluster, in one place for every service that makes or
 * remakes one (provisioning, ha's rejoin, pitr's in-place restore): its plan, its TLS material
 * under the platform home, its cluster_name, archiving into the cluster's stanza on PITR plans.
 */

/** The replication role every cluster's followers stream as (provisioning creates it). */
export const REPLICATION_USER = 'replicator';

/**
 * The setup of `nodeId` of the cluster (TLS when `home` is given), with the PostgreSQL parameters
 * set on it (`config set`), so every node made or remade keeps them. Throws on an unknown plan.
 */
export function nodeSetupOf(
  view: Pick<ClusterView, 'clusterId' | 'plan'> & Partial<Pick<ClusterView, 'parameters'>>,
  nodeId: string,
  home?: string,
): NodeSetup {
  const plan = view.plan === undefined ? undefined : findPlan(view.plan);
  if (!plan || view.clusterId === undefined) throw new Error(`cluster ${view.clusterId} has no known plan`);
  const tls = home ? { tls: nodeTlsFiles(home, view.clusterId, nodeId) } : {};
  const parameters = view.parameters ? parameterSettingsOf(view.parameters) : {};
  return {
    plan,
    ...tls,
    clusterName: slotName(nodeId),
    ...archiveSetupOf(view),
    ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
  };
}

/** `leader` as its followers reach it: its peer address, the replication role, verify-full when nodes have TLS. */
export async function upstreamLeaderOf(
  runtime: NodeRuntime,
  secrets: SecretStore,
  clusterId: string,
  leader: string,
  home?: string,
): Promise<UpstreamLeader> {
  const password = await secrets.get(secretRefs.replication(clusterId));
  if (!password) throw new Error(`the replication password of cluster ${clusterId} is missing from the secret store`);
  return {
    ...(await runtime.peerAddress(runtimeNodeId(clusterId, leader))),
    user: REPLICATION_USER,
    password,
    ...(home ? { sslmode: 'verify-full' } : {}),
  };
}

/**
 * Make `nodeId` a fresh clone of the running `leader` (both of `clusterId`, named as the cluster
 * names them): its data removed, the node created again (on its host) on `port` with `major`, its old slot on
 * the leader dropped, then pg_basebackup with a new slot. Not started. Idempotent: an interrupted
 * run is redone whole.
 */
export async function recloneFollower(
  runtime: NodeRuntime,
  target: { clusterId: string; nodeId: string; leader: string; major: number; port: number },
  setup: NodeSetup,
  upstream: UpstreamLeader,
): Promise<void> {
  const { clusterId, nodeId } = target;
  const rid = runtimeNodeId(clusterId, nodeId);
  // On a runtime with several hosts, the node stays where it was placed.
  const host = (await runtime.hosts?.locate(rid))?.host;
  await runtime.remove(rid);
  await runtime.create({ clusterId, nodeId: rid, major: target.major, port: target.port, ...(host ? { host } : {}) });
  const dropSlot = 'SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1';
  await withClient(await runtime.endpoint(runtimeNodeId(clusterId, target.leader)), (q) =>
    q.query(dropSlot, [slotName(nodeId)]),
  );
  await runtime.cloneFrom(rid, { ...setup, leader: upstream, slotName: slotName(nodeId) });
}
