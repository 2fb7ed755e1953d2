import { uuidv7, type CommandData, type CommandMeta, type CommandReply } from '@pgfleet/contracts';
import { operationIdFor } from '@pgfleet/kit';
import { loadView, recordHa } from './record.js';
import type { HaServiceDeps } from './main.js';

/**
 * A failover asked by the user (the leader is dead or unreachable): the same fenced operation as
 * an automatic one. A leader that answers as a primary is not failed over (a switchover hands it
 * over without loss).
 */
export async function failoverCluster(
  deps: HaServiceDeps,
  cmd: CommandData<'ha', 'FailoverCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const view = await loadView(deps.store, cmd.clusterId);
  const from = view.leader;
  if (view.status === 'none' || view.status === 'deleted' || !from) {
    return { ok: false, code: 'CLUSTER_NOT_FOUND', message: 'no such cluster', details: { field: 'clusterId' } };
  }
  if (view.nodes.length < 2) {
    const message = `cluster ${view.name} has no follower to promote: its plan ${view.plan} runs one node`;
    return { ok: false, code: 'NO_FOLLOWER', message, details: { field: 'clusterId' } };
  }
  if (cmd.to !== undefined && !view.nodes.some((n) => n.nodeId === cmd.to && n.nodeId !== from)) {
    const message = `${cmd.to} is not a follower of cluster ${view.name}`;
    return { ok: false, code: 'VALIDATION_FAILED', message, details: { field: 'to' } };
  }
  const watch = deps.watcher.watchOf(cmd.clusterId, from);
  if (watch?.last?.reachable && watch.last.inRecovery === false) {
    const switchover = `pgfleet cluster switchover ${view.name}`;
    const message = `the leader ${from} is alive: use "${switchover}" to hand it over without loss`;
    return { ok: false, code: 'LEADER_ALIVE', message, details: { leader: from } };
  }
  const operationId = meta.commandId ? operationIdFor(meta.commandId) : uuidv7();
  const reply = await recordHa(
    deps.store,
    cmd.clusterId,
    {
      type: 'StartFailover',
      operationId,
      from,
      term: view.term + 1,
      reason: 'failover requested by the user',
      params: {
        ...(cmd.to !== undefined ? { to: cmd.to } : {}),
        acceptDataLoss: cmd.acceptDataLoss,
        streaming: watch?.lastStreaming ?? [],
      },
    },
    meta, // without an actor, recordHa records the ha service's own
  );
  if (!reply.ok) return reply;
  deps.runOperationNow(cmd.clusterId);
  return { ...reply, result: { operationId } };
}

export async function setClusterDurability(
  deps: HaServiceDeps,
  cmd: CommandData<'ha', 'SetClusterDurability'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const reply = await recordHa(deps.store, cmd.clusterId, { type: 'SetDurability', durability: cmd.durability }, meta);
  return reply.ok ? { ...reply, result: { durability: cmd.durability } } : reply;
}
