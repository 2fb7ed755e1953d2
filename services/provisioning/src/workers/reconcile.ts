import {
  archiveStanzaOf,
  findPlan,
  followersOf,
  leaderOf,
  runtimeNodeId,
  slotName,
  type ClusterNode,
  type Plan,
  type RestoreSource,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import type { Logger } from '@pgfleet/kit';
import {
  createAppRoleAndDb,
  createReplicationRole,
  ensureClusterTls,
  ensureReplicationSlots,
  freePort,
  nodeStatus,
  removeClusterTls,
  setSynchronousStandbys,
  withClient,
  type Queryable,
  type SecretStore,
} from '@pgfleet/postgres';
import { nodeSetupOf, type NodeRuntime, type NodeSetup, type UpstreamLeader } from '@pgfleet/runtime';
import { appSecretRef, onNames, replicationSecretRef } from '../commands.js';
import { copyLeader, makeFollowers } from './coldCopy.js';
import { placeClusterNodes, placedOn } from './placement.js';
import { ClusterProgress, fromStore, PROVISIONING_ACTOR, StaleOutcome, StoreUnavailable } from './record.js';

export interface ReconcileDeps {
  store: EventStore;
  runtime: NodeRuntime;
  secrets: SecretStore;
  log: Logger;
  /** The platform home: when set, nodes get TLS from the start (cluster CA + node certificates under it). */
  home?: string;
  /** Validity of the node certificates issued with the cluster, in days (default 365). */
  nodeCertDays?: number;
}

export const APP_DATABASE = 'app';
const APP_USER = 'app';
export const REPLICATION_USER = 'replicator';

/**
 * Drive one cluster towards what its history asks for. Every step looks at the real world
 * before acting, so running it again after a crash continues where it stopped and never starts
 * a second server. Outcomes go through the cluster's decider; when the history has moved on
 * (another worker, a delete), the decider refuses them and this run stops.
 */
export async function reconcileCluster(deps: ReconcileDeps, clusterId: string): Promise<void> {
  const cluster = await ClusterProgress.load(deps.store, clusterId);
  try {
    if (cluster.view.status === 'provisioning') await provision(deps, cluster);
    else if (cluster.view.status === 'deleting') await teardown(deps, cluster);
  } catch (error) {
    if (!(error instanceof StaleOutcome)) throw error;
    const moved = { clusterId, code: error.code, reason: error.message };
    deps.log.info(moved, 'the cluster moved on; reconciling again later');
  }
}

async function provision(deps: ReconcileDeps, cluster: ClusterProgress): Promise<void> {
  const { clusterId } = cluster;
  const s = cluster.view;
  const plan = s.plan === undefined ? undefined : findPlan(s.plan);
  const leader = leaderOf(s);
  if (!plan || !s.version || !leader) {
    throw new Error(`cluster ${clusterId} has no plan, version or leader in its history`);
  }
  const [appPassword, replicationPassword] = await Promise.all([
    deps.secrets.get(appSecretRef(clusterId)),
    deps.secrets.get(replicationSecretRef(clusterId)),
  ]);
  if (!appPassword || !replicationPassword) {
    const reason = "the cluster's passwords are missing from the secret store";
    await cluster.record({ type: 'RecordProvisioningFailed', reason });
    return;
  }
  const major = s.version;
  const rid = (node: ClusterNode) => runtimeNodeId(clusterId, node.nodeId);
  await placeClusterNodes(deps.runtime, cluster); // where each node goes (docker hosts), before any is made

  // A node that cannot be made is a provisioning failure; a store that does not answer is not (thrown: redelivered).
  const fail = async (node: ClusterNode, error: unknown) => {
    if (error instanceof StaleOutcome || error instanceof StoreUnavailable) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    deps.log.error({ clusterId, nodeId: node.nodeId, reason }, 'node failed');
    await cluster.record({ type: 'RecordNodeFailed', nodeId: node.nodeId, reason });
  };

  // TLS material for every node is issued while the leader's initdb runs (the paths are known).
  const home = deps.home;
  // The node setup every service builds alike (plan, TLS under the home, cluster_name, archiving).
  const setupOf = (node: ClusterNode): NodeSetup => nodeSetupOf(s, node.nodeId, home);
  const nodeIds = s.nodes.map((n) => n.nodeId);
  const certs = { days: deps.nodeCertDays };
  const tlsReady = home ? ensureClusterTls(home, clusterId, nodeIds, certs) : Promise.resolve();
  tlsReady.catch(() => undefined); // awaited below; a failure is reported there

  const followers = followersOf(cluster.view);
  const upstream = async (): Promise<UpstreamLeader> => ({
    ...(await deps.runtime.peerAddress(rid(leader))),
    user: REPLICATION_USER,
    password: replicationPassword,
    // Replication verifies the leader's certificate against the cluster CA (verify-full).
    ...(home ? { sslmode: 'verify-full' } : {}),
  });
  // A new cluster's followers are copies of its leader's data made before that leader first starts:
  // no checkpoint and base backup of a running server. Otherwise (a restored leader, or a leader
  // made before a crash) they are cloned from the running leader with pg_basebackup.
  const coldCopy =
    !s.restoreFrom && !leader.provisioned && followers.length > 0 && followers.every((f) => !f.provisioned);
  let copies: ClusterNode[] = [];

  // 1. the leader: initdb (or a restore from an archive), start (with its TLS material), roles
  //    (made while the start is recorded; on restored data they take this cluster's passwords).
  const from = s.restoreFrom;
  const makeLeader = from
    ? () => restoreLeader(deps, rid(leader), from, setupOf(leader), tlsReady)
    : async () => {
        // The followers' storage is made while the leader's initdb runs (a container each on docker).
        const made = coldCopy ? makeFollowers(deps, cluster, followers, major) : undefined;
        try {
          await deps.runtime.initialize(rid(leader), setupOf(leader));
        } finally {
          await made; // settled: never left running for the next attempt to meet
        }
        if (made)
          copies = await copyLeader(deps, cluster, followers, rid(leader), setupOf, await upstream(), await made);
      };
  // The stanza the nodes archive into exists before the cluster is ready (idempotent; the pitr
  // service owns its backups): an archive_command failing for a missing stanza would hold every
  // shutdown. Made while the followers start, awaited before step 3.
  let stanzaMade: Promise<void> = Promise.resolve();
  try {
    await ensureRunning(deps, cluster, leader, major, makeLeader, {
      ready: tlsReady,
      running: async () => {
        const target = await deps.runtime.endpoint(rid(leader));
        const stanza = archiveStanzaOf(s);
        if (stanza !== undefined) {
          stanzaMade = deps.runtime.archive.createStanza(stanza, rid(leader));
          stanzaMade.catch(() => undefined); // awaited below; a failure is reported there
        }
        await Promise.all([
          createAppRoleAndDb(target, { role: APP_USER, database: APP_DATABASE, password: appPassword }),
          createReplicationRole(target, { role: REPLICATION_USER, password: replicationPassword }),
          // The copied followers' slots, before they start (a clone's pg_basebackup makes its own).
          ensureReplicationSlots(
            target,
            copies.map((f) => slotName(f.nodeId)),
          ),
        ]);
      },
    });
  } catch (error) {
    await stanzaMade.catch(() => undefined); // never left running for the next attempt to meet
    await fail(leader, error);
    return;
  }

  // 2. followers, in parallel: the copies recorded and started; the others cloned from the leader
  //    with pg_basebackup and a replication slot each.
  const results = await Promise.allSettled(
    followers.map(async (f) => {
      const copy = copies.find((c) => c.nodeId === f.nodeId);
      if (copy?.port !== undefined) {
        await cluster.record({ type: 'RecordNodeProvisioned', nodeId: f.nodeId, port: copy.port });
        return ensureRunning(deps, cluster, copy, major, async () => undefined);
      }
      return ensureRunning(deps, cluster, f, major, async () => {
        await deps.runtime.cloneFrom(rid(f), { ...setupOf(f), leader: await upstream(), slotName: slotName(f.nodeId) });
      });
    }),
  );
  const stanza = await Promise.allSettled([stanzaMade]);
  const lost = results.find((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailable);
  if (lost?.status === 'rejected') throw lost.reason;
  const failed = results.findIndex((r) => r.status === 'rejected');
  const failure = results[failed];
  if (failure?.status === 'rejected') {
    await fail(followers[failed]!, failure.reason);
    return;
  }

  if (stanza[0]?.status === 'rejected') {
    await fail(leader, stanza[0].reason);
    return;
  }

  // 3. replication: synchronous to ANY 1 of the followers on plans that ask for it.
  if (followers.length > 0 && !cluster.view.replicationEstablished) {
    const standbys = followers.map((f) => slotName(f.nodeId));
    await establishReplication(deps, cluster, rid(leader), plan, standbys);
  }
  const peer = await deps.runtime.peerAddress(rid(leader));
  await cluster.record({
    type: 'RecordClusterReady',
    host: peer.host,
    port: peer.port,
    database: APP_DATABASE,
    user: APP_USER,
  });
  deps.log.info({ clusterId }, 'cluster ready');
}

/**
 * A fork's leader: its data restored from the source cluster's archive to the target time, with
 * this node's own configuration (TLS, archiving to its own stanza); the runtime starts it. Redone
 * whole when interrupted (the node is made anew until NodeProvisioned is recorded). The source
 * leader's synchronous standby names came with the data: dropped, or every commit (the role
 * passwords' first) would wait for standbys that do not exist yet; step 3 sets this cluster's.
 */
async function restoreLeader(
  deps: ReconcileDeps,
  leaderRid: string,
  from: RestoreSource,
  setup: NodeSetup,
  tlsReady: Promise<unknown>,
): Promise<void> {
  await tlsReady; // the restored server starts with its certificates
  const target = { stanza: from.clusterId, targetTime: from.targetTime, setup };
  await deps.runtime.archive.restore(leaderRid, target);
  await setSynchronousStandbys(await deps.runtime.endpoint(leaderRid), []);
}

async function establishReplication(
  deps: ReconcileDeps,
  cluster: ClusterProgress,
  leaderRid: string,
  plan: Plan,
  standbys: string[],
): Promise<void> {
  const target = await deps.runtime.endpoint(leaderRid);
  const sync = await withClient(target, async (q) => {
    await waitForStreaming(q, standbys.length);
    return plan.synchronousReplication ? setSynchronousStandbys(q, standbys, 1) : undefined;
  });
  const names = sync === undefined ? {} : { synchronousStandbyNames: sync };
  await cluster.record({ type: 'RecordReplicationEstablished', ...names });
}

interface RunningSteps {
  /** What the server needs before it starts (its TLS material). */
  ready?: Promise<unknown>;
  /** The next step, which needs the server running: it runs while the start is recorded. */
  running?: () => Promise<void>;
}

/**
 * A node made once (initdb or clone; storage without a NodeProvisioned event is a half-done
 * attempt from before a crash, made again) and running. Each outcome is recorded while the next
 * step already runs: the server starts while NodeProvisioned is recorded, `running` runs while
 * NodeStarted is recorded. An outcome the history refused wins over a failure of the step beside it.
 */
export async function ensureRunning(
  deps: ReconcileDeps,
  cluster: ClusterProgress,
  node: ClusterNode,
  major: number,
  init: () => Promise<void>,
  steps: RunningSteps = {},
): Promise<void> {
  const rid = runtimeNodeId(cluster.clusterId, node.nodeId);
  let port = node.port;
  let provisioned: Promise<void> = Promise.resolve();
  if (!node.provisioned) {
    await deps.runtime.remove(rid).catch(() => undefined);
    const fresh = await freePort();
    port = fresh;
    await deps.runtime.create({
      clusterId: cluster.clusterId,
      nodeId: rid,
      major,
      port: fresh,
      ...placedOn(cluster, node),
    });
    await init();
    provisioned = cluster.record({ type: 'RecordNodeProvisioned', nodeId: node.nodeId, port: fresh });
  }
  const start = (async () => {
    await steps.ready;
    return deps.runtime.start(rid);
  })();
  const { pid } = await afterBoth(provisioned, start);
  const recordStart = async () => {
    if (node.started) return;
    if (port === undefined) throw new Error(`${node.nodeId} started before its port was recorded`);
    await cluster.record({ type: 'RecordNodeStarted', nodeId: node.nodeId, port, pid });
  };
  await afterBoth(recordStart(), steps.running?.() ?? Promise.resolve());
}

/** Once both settled: the value of `step`; the failure of `recording` first, else that of `step`. */
async function afterBoth<T>(recording: Promise<unknown>, step: Promise<T>): Promise<T> {
  const [recorded, done] = await Promise.allSettled([recording, step]);
  if (recorded.status === 'rejected') throw recorded.reason;
  if (done.status === 'rejected') throw done.reason;
  return done.value;
}

/** Until `count` followers stream from the leader: asked every 20 ms on one connection. */
async function waitForStreaming(leader: Queryable, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const streaming = (await nodeStatus(leader)).standbys.filter((s) => s.state === 'streaming').length;
    if (streaming >= count) return;
    if (Date.now() > deadline) throw new Error(`followers are not streaming after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Before a PITR cluster's leader goes: its current WAL segment is switched and archived (bounded, best
 * effort), so the archive kept after the delete holds the last writes, not only those of the last
 * full segment or archive_timeout.
 */
async function archiveLastWal(deps: ReconcileDeps, cluster: ClusterProgress): Promise<void> {
  const leader = leaderOf(cluster.view);
  if (!leader || !archiveStanzaOf(cluster.view)) return;
  try {
    const endpoint = await deps.runtime.endpoint(runtimeNodeId(cluster.clusterId, leader.nodeId));
    await withClient({ ...endpoint, connectTimeoutMs: 2000, queryTimeoutMs: 5000 }, async (q) => {
      const sql = 'SELECT pg_walfile_name(pg_switch_wal()) AS wal';
      const wal = (await q.query<{ wal: string }>(sql)).rows[0]!.wal;
      const archived = "SELECT coalesce(last_archived_wal, '') >= $1 AS done FROM pg_stat_archiver";
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
        if ((await q.query<{ done: boolean }>(archived, [wal])).rows[0]?.done) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      deps.log.warn({ clusterId: cluster.clusterId, wal }, 'the last WAL segment was not archived before the delete');
    });
  } catch (error) {
    deps.log.warn({ clusterId: cluster.clusterId, err: String(error) }, 'the last WAL could not be archived');
  }
}

async function teardown(deps: ReconcileDeps, cluster: ClusterProgress): Promise<void> {
  const { clusterId } = cluster;
  await archiveLastWal(deps, cluster);
  for (const node of cluster.view.nodes) {
    await deps.runtime.remove(runtimeNodeId(clusterId, node.nodeId));
    await cluster.record({ type: 'RecordNodeStopped', nodeId: node.nodeId });
  }
  // Its passwords, CA and node keys leave with it at once (node certificates may live in the data root);
  // its backups and PITR archive are kept for the plan's retention by the backup and pitr services.
  const secretRefs = [appSecretRef(clusterId), replicationSecretRef(clusterId)];
  for (const ref of secretRefs) await deps.secrets.delete(ref);
  if (deps.home) removeClusterTls(deps.home, clusterId);
  await cluster.record({ type: 'RecordSecretsRemoved', secretRefs, privateKeys: deps.home !== undefined });
  await cluster.record({ type: 'RecordClusterDeleted' });
  const { accountId, name } = cluster.view;
  if (accountId && name) {
    const release = { type: 'ReleaseName', accountId, name, clusterId } as const;
    await fromStore('ReleaseName', () => onNames(deps.store, release, { actor: PROVISIONING_ACTOR }));
  }
  deps.log.info({ clusterId }, 'cluster deleted');
}
