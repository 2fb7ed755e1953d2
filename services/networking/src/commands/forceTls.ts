import { findPlan, foldClusterView, runtimeNodeId, streamIds } from '@pgfleet/contracts';
import type { CommandData, CommandMeta, CommandReply } from '@pgfleet/contracts';
import { nodeTlsFiles } from '@pgfleet/postgres';
import { decideForceTls } from '../domain/tls.js';
import { loadGateways, recordGateways } from '../workers/recordGateways.js';
import type { CommandDeps } from './deps.js';

/**
 * ForceTls: every node is reconfigured to accept TCP only over TLS (`hostssl`; plaintext
 * refused) and reloads (no restart: open TLS sessions and replication carry on), then TlsForced
 * is recorded. Idempotent: forcing again touches no node and records nothing.
 */
export async function forceTls(
  deps: CommandDeps,
  cmd: CommandData<'networking', 'ForceTls'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const clusterEvents = (await deps.store.readStream(streamIds.cluster(cmd.clusterId))).events;
  const cluster = foldClusterView(clusterEvents);
  const gateways = await loadGateways(deps.store, cmd.clusterId);
  const decision = decideForceTls(cluster, gateways);
  if (!decision.ok) return { ok: false, ...decision.rejection };
  const streamId = streamIds.gateway(cmd.clusterId);
  if (decision.already) {
    return { ok: true, streamId, version: gateways.version_, result: { tlsForced: true, changed: false } };
  }

  const plan = cluster.plan ? findPlan(cluster.plan) : undefined;
  if (!plan) throw new Error(`cluster ${cmd.clusterId} is ready but its plan ${cluster.plan ?? '(none)'} is unknown`);
  for (const { nodeId } of decision.nodes) {
    const tls = nodeTlsFiles(deps.home, cmd.clusterId, nodeId);
    await deps.runtime.configure(runtimeNodeId(cmd.clusterId, nodeId), { plan, tls, forceTls: true });
  }
  const nodes = decision.nodes.map((n) => n.nodeId);
  const reply = await recordGateways(
    deps.store,
    cmd.clusterId,
    { type: 'ForceTls', nodes },
    { ...meta, causationId: clusterEvents.at(-1)?.id ?? null },
  );
  return reply.ok ? { ...reply, result: { tlsForced: true, changed: true } } : reply;
}
