import { sendCommand } from '@pgfleet/bus';
import {
  foldClusterView,
  leaderOf,
  streamIds,
  type ClusterView,
  type CommandMeta,
  type CommandReply,
  type RestoreSource,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { OperationFailure } from './operations.js';

/**
 * An operation that makes a new cluster (a restore `--into NEW`): ask provisioning for it over
 * NATS, resumably, then wait until it is ready. Shared by the services whose operations fork a
 * cluster (backup's restore, pitr's restore to a time): they may not import each other.
 */

/** The NATS connection commands go out on. */
export type Bus = Parameters<typeof sendCommand>[0];

export interface NewClusterDeps {
  store: EventStore;
  /** Where CreateCluster goes to provisioning: needed by restores into a new cluster only. */
  nc?: Bus;
  /** How long `target-ready` waits for the new cluster (default 10 minutes). */
  targetReadyTimeoutMs?: number;
  /** How long provisioning may be unreachable before the step gives up for now (default 60 s). */
  busRetryMs?: number;
}

/** What else the new cluster is made of, and who asks (the actor of CreateCluster, default `backup`). */
export interface NewClusterOptions {
  /** The new cluster's leader is restored from this PITR archive instead of initialized. */
  restoreFrom?: RestoreSource;
  service?: string;
  /** The step name an OperationFailure names (default `create-target`). */
  step?: string;
}

const UNREACHABLE: ReadonlySet<string> = new Set(['SERVICE_UNAVAILABLE', 'TIMEOUT']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const loadCluster = async (store: EventStore, clusterId: string): Promise<ClusterView> =>
  foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);

/**
 * Step `create-target`: ask provisioning (over NATS) for a new cluster `name` like the source (plan,
 * version, account). The command id is derived from the operation, so a resumed step asks for the
 * same cluster: when provisioning answers NAME_TAKEN to the repeat, the name's reservation made by
 * this very command (its causation id) tells the cluster it already created. Another refusal ends
 * the operation; an unreachable provisioning is retried, then left to the next attempt.
 */
export async function createTargetCluster(
  deps: NewClusterDeps,
  operationId: string,
  source: ClusterView,
  name: string,
  options: NewClusterOptions = {},
): Promise<{ targetClusterId: string; targetName: string }> {
  const step = options.step ?? 'create-target';
  const { plan, version, accountId } = source;
  if (!plan || !version || !accountId) throw new OperationFailure(step, 'the source cluster is unknown');
  const nc = deps.nc;
  if (!nc) throw new OperationFailure(step, 'no NATS connection to ask provisioning for a new cluster');
  const commandId = `${operationId}:create-target`;
  const actor = { kind: 'service' as const, id: options.service ?? 'backup' };
  const meta: CommandMeta = { commandId, correlationId: operationId, actor };
  const data = { name, plan, version, accountId, ...(options.restoreFrom ? { restoreFrom: options.restoreFrom } : {}) };
  const deadline = Date.now() + (deps.busRetryMs ?? 60_000);
  let reply: CommandReply;
  for (;;) {
    reply = await sendCommand(nc, 'provisioning', 'CreateCluster', data, meta);
    if (reply.ok || !UNREACHABLE.has(reply.code) || Date.now() > deadline) break;
    await sleep(1000);
  }
  if (reply.ok) {
    const clusterId = reply.result?.clusterId;
    if (typeof clusterId !== 'string') throw new Error(`provisioning created ${name} without naming its cluster id`);
    return { targetClusterId: clusterId, targetName: name };
  }
  if (reply.code === 'NAME_TAKEN') {
    const mine = await clusterCreatedBy(deps.store, accountId, name, commandId);
    if (mine) return { targetClusterId: mine, targetName: name };
  }
  if (UNREACHABLE.has(reply.code)) throw new Error(`cannot create cluster ${name} now: ${reply.message}`);
  throw new OperationFailure(step, `cluster ${name} was not created: ${reply.message}`);
}

/** The cluster whose name reservation in the account was caused by this command, if any. */
async function clusterCreatedBy(
  store: EventStore,
  accountId: string,
  name: string,
  commandId: string,
): Promise<string | undefined> {
  const { events } = await store.readStream(streamIds.names(accountId));
  for (const e of events) {
    if (e.type === 'ClusterNameReserved' && e.data.name === name && e.causationId === commandId) {
      return e.data.clusterId;
    }
  }
  return undefined;
}

/**
 * Step `target-ready`: wait, reading the new cluster's stream, until it is ready (its leader is
 * then the restore's target); a cluster whose provisioning failed, or that is not ready in time,
 * ends the operation.
 */
export async function waitUntilReady(
  deps: NewClusterDeps,
  clusterId: string,
  name: string,
  step = 'target-ready',
): Promise<{ targetClusterId: string; leader: string }> {
  const timeoutMs = deps.targetReadyTimeoutMs ?? 600_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await loadCluster(deps.store, clusterId);
    const leader = leaderOf(view);
    if (view.status === 'ready' && leader?.provisioned) return { targetClusterId: clusterId, leader: leader.nodeId };
    if (view.status === 'failed') {
      const why = view.failureReason ?? 'unknown reason';
      throw new OperationFailure(step, `the new cluster ${name} failed to provision: ${why}`);
    }
    if (view.status === 'deleting' || view.status === 'deleted') {
      throw new OperationFailure(step, `the new cluster ${name} was deleted before the restore`);
    }
    if (Date.now() > deadline) {
      const message = `the new cluster ${name} is not ready after ${Math.round(timeoutMs / 1000)} s`;
      throw new OperationFailure(step, message);
    }
    await sleep(500);
  }
}
