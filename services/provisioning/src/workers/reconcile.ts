import { findPlan, streamIds, type DomainEvent } from '@pgfleet/contracts';
import { WrongExpectedVersion, type EventStore } from '@pgfleet/eventstore';
import type { Logger } from '@pgfleet/kit';
import { cloneFollower, createAppRoleAndDb, createReplicationRole, freePort, initNode, nodeSocketDir, nodeStatus, setSynchronousStandbys, type SecretStore, type SqlTarget } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';
import { appSecretRef, replicationSecretRef } from '../commands.js';
import { evolveCluster, foldCluster, type ClusterState, type NodeState } from '../domain/cluster.js';
import { decideRelease, evolveNames, initialNamesState } from '../domain/names.js';
import { handleCommand } from '@pgfleet/kit';
import { runtimeNodeId } from './nodeIds.js';
import { ensureClusterTls, nodeTlsFiles } from './nodeTls.js';

export interface ReconcileDeps {
  store: EventStore;
  runtime: NodeRuntime;
  secrets: SecretStore;
  log: Logger;
  /** The platform home: when set, nodes get TLS from the start (cluster CA + node certificates under it). */
  home?: string;
}

export const PROVISIONING_ACTOR = { kind: 'service' as const, id: 'provisioning' };
export const APP_DATABASE = 'app';
export const APP_USER = 'app';
export const REPLICATION_USER = 'replicator';

/**
 * Drive one cluster towards what its history asks for. Every step looks at the real world
 * before acting, so running it again after a crash continues where it stopped and never starts
 * a second server. Outcomes are recorded as events with the expected version.
 */
export async function reconcileCluster(deps: ReconcileDeps, clusterId: string): Promise<ClusterState> {
  const streamId = streamIds.cluster(clusterId);
  const { events } = await deps.store.readStream(streamId);
  let state = foldCluster(events);
  // Outcomes carry the correlation id of the request that started the work, caused by the last event seen.
  const correlationId = events[0]?.correlationId;
  let lastEventId = events.at(-1)?.id ?? null;
  // Appends are serialized (followers are cloned in parallel), each at the version it knows.
  let chain: Promise<void> = Promise.resolve();
  const record = (...evs: DomainEvent[]) => {
    const next = chain.then(async () => {
      const stamped = evs.map((e) => ({ ...e, actor: PROVISIONING_ACTOR, correlationId, causationId: lastEventId }));
      const res = await deps.store.appendToStream(streamId, stamped, { expectedVersion: state.version_ });
      lastEventId = res.events.at(-1)?.id ?? lastEventId;
      state = evs.reduce(evolveCluster, state);
    });
    chain = next.catch(() => undefined);
    return next;
  };
  try {
    if (state.status === 'provisioning') await provision(deps, clusterId, () => state, record);
    else if (state.status === 'deleting') await teardown(deps, clusterId, () => state, record);
  } catch (error) {
    if (error instanceof WrongExpectedVersion) {
      deps.log.info({ clusterId }, 'another worker moved the cluster on; reconciling again later');
      return state;
    }
    throw error;
  }
  return state;
}

type Record_ = (...evs: DomainEvent[]) => Promise<void>;

async function provision(deps: ReconcileDeps, clusterId: string, state: () => ClusterState, record: Record_): Promise<void> {
  const s = state();
  const plan = findPlan(s.plan!)!;
  const major = s.version!;
  const appPassword = await deps.secrets.get(appSecretRef(clusterId));
  const replicationPassword = await deps.secrets.get(replicationSecretRef(clusterId));
  if (!appPassword || !replicationPassword) {
    await record({ type: 'ClusterProvisioningFailed', data: { reason: 'the cluster\'s passwords are missing from the secret store' } });
    return;
  }
  const leader = s.nodes.find((n) => n.nodeId === s.leader)!;

  const fail = async (node: NodeState, error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    deps.log.error({ clusterId, nodeId: node.nodeId, reason }, 'node failed');
    await record({ type: 'NodeFailed', data: { nodeId: node.nodeId, reason } }, { type: 'ClusterProvisioningFailed', data: { nodeId: node.nodeId, reason } });
  };

  // TLS material for every node is issued while the leader's initdb runs (the paths are known).
  const home = deps.home;
  const tlsReady = home ? ensureClusterTls(home, clusterId, s.nodes.map((n) => n.nodeId)) : Promise.resolve();
  tlsReady.catch(() => undefined); // awaited below; a failure is reported there

  // 1. the leader: initdb, start, roles.
  try {
    await ensureProvisioned(deps, clusterId, leader, major, record, async (spec) => {
      const tls = home ? nodeTlsFiles(home, clusterId, leader.nodeId) : undefined;
      await initNode({ major, dataDir: spec.dataDir, port: spec.port, plan, tls });
    });
    await tlsReady;
    await ensureStarted(deps, clusterId, state().nodes.find((n) => n.nodeId === leader.nodeId)!, record);
    const port = state().nodes.find((n) => n.nodeId === leader.nodeId)!.port!;
    const dataDir = state().nodes.find((n) => n.nodeId === leader.nodeId)!.dataDir!;
    const target = { host: nodeSocketDir(dataDir), port, user: 'postgres', database: 'postgres' };
    await createAppRoleAndDb(target, { role: APP_USER, database: APP_DATABASE, password: appPassword });
    await createReplicationRole(target, { role: REPLICATION_USER, password: replicationPassword });
  } catch (error) {
    await fail(leader, error);
    return;
  }
  const leaderNow = state().nodes.find((n) => n.nodeId === leader.nodeId)!;

  // 2. followers: cloned from the leader with pg_basebackup and a replication slot each, in parallel.
  const followers = state().nodes.filter((n) => n.nodeId !== leader.nodeId);
  const results = await Promise.allSettled(followers.map(async (f) => {
    await ensureProvisioned(deps, clusterId, f, major, record, async (spec) => {
      const tls = home ? nodeTlsFiles(home, clusterId, f.nodeId) : undefined;
      // Replication verifies the leader's certificate against the cluster CA (verify-full).
      const verify = tls ? { sslmode: 'verify-full', sslrootcert: tls.caFile } : {};
      await cloneFollower({
        major, dataDir: spec.dataDir, port: spec.port, slotName: slotName(f.nodeId),
        leader: { host: '127.0.0.1', port: leaderNow.port!, user: REPLICATION_USER, password: replicationPassword, ...verify },
        plan, tls,
      });
    });
    await ensureStarted(deps, clusterId, state().nodes.find((n) => n.nodeId === f.nodeId)!, record);
  }));
  const failed = results.findIndex((r) => r.status === 'rejected');
  if (failed >= 0) {
    await fail(followers[failed]!, (results[failed] as PromiseRejectedResult).reason);
    return;
  }

  // 3. replication: synchronous to ANY 1 of the followers on plans that ask for it.
  if (followers.length > 0 && !state().replicationEstablished) {
    const names = followers.map((f) => slotName(f.nodeId));
    const target = { host: nodeSocketDir(leaderNow.dataDir!), port: leaderNow.port!, user: 'postgres', database: 'postgres' };
    await waitForStreaming(target, names.length);
    const sync = plan.synchronousReplication ? await setSynchronousStandbys(target, names, 1) : undefined;
    await record({ type: 'ReplicationEstablished', data: { leader: leader.nodeId, followers: followers.map((f) => f.nodeId), synchronousStandbyNames: sync } });
  }
  await record({ type: 'ClusterReady', data: { leader: leader.nodeId, host: '127.0.0.1', port: leaderNow.port!, database: APP_DATABASE, user: APP_USER } });
  deps.log.info({ clusterId }, 'cluster ready');
}

/** The standby's application_name and slot name: a node id as a SQL identifier. */
export const slotName = (nodeId: string) => nodeId.replace(/[^a-z0-9_]/gi, '_').toLowerCase();

async function ensureProvisioned(
  deps: ReconcileDeps, clusterId: string, node: NodeState, major: number, record: Record_,
  init: (spec: { dataDir: string; port: number }) => Promise<void>,
): Promise<void> {
  if (node.port && node.dataDir) return;
  const rid = runtimeNodeId(clusterId, node.nodeId);
  // A directory without a NodeProvisioned event is a half-done attempt from before a crash: start over.
  await deps.runtime.remove(rid).catch(() => undefined);
  const port = await freePort();
  const spec = await deps.runtime.create({ clusterId, nodeId: rid, major, port });
  await init({ dataDir: spec.dataDir, port });
  await record({ type: 'NodeProvisioned', data: { nodeId: node.nodeId, role: node.role, port, dataDir: spec.dataDir } });
}

async function ensureStarted(deps: ReconcileDeps, clusterId: string, node: NodeState, record: Record_): Promise<void> {
  const rid = runtimeNodeId(clusterId, node.nodeId);
  const st = await deps.runtime.start(rid);
  if (!node.started) await record({ type: 'NodeStarted', data: { nodeId: node.nodeId, port: node.port!, pid: st.pid } });
}

async function waitForStreaming(target: SqlTarget, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const streaming = (await nodeStatus(target)).standbys.filter((s) => s.state === 'streaming').length;
    if (streaming >= count) return;
    if (Date.now() > deadline) throw new Error(`followers are not streaming after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function teardown(deps: ReconcileDeps, clusterId: string, state: () => ClusterState, record: Record_): Promise<void> {
  const s = state();
  for (const node of s.nodes) {
    await deps.runtime.remove(runtimeNodeId(clusterId, node.nodeId));
    if (node.started) await record({ type: 'NodeStopped', data: { nodeId: node.nodeId } });
  }
  await deps.secrets.delete(appSecretRef(clusterId));
  await deps.secrets.delete(replicationSecretRef(clusterId));
  await record({ type: 'ClusterDeleted', data: {} });
  const release = { accountId: s.accountId!, name: s.name!, clusterId };
  await handleCommand({ store: deps.store, streamId: streamIds.names(s.accountId!), initialState: initialNamesState(), evolve: evolveNames,
    decide: (c: typeof release, st) => decideRelease(c, st), command: release, meta: { actor: PROVISIONING_ACTOR } });
  deps.log.info({ clusterId }, 'cluster deleted');
}
