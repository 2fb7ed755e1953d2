import { foldClusterView, streamIds, type CommandData, type CommandMeta, type CommandReply } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { requestOperation } from '@pgfleet/kit';
import { decideUpgradeRequest } from './domain/upgrade.js';

/**
 * UpgradeCluster (`pgfleet upgrade NAME --to 15 [--check]`): decided against the cluster view at
 * once (nothing recorded when refused), then asked for as a `major-upgrade` operation on the
 * cluster's stream (one operation per cluster). The reply carries `{ operationId, kind, fromVersion, toVersion }`.
 */
export async function requestUpgrade(
  deps: { store: EventStore },
  cmd: CommandData<'upgrade', 'UpgradeCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const view = foldClusterView((await deps.store.readStream(streamIds.cluster(cmd.clusterId))).events);
  const decided = decideUpgradeRequest(view, cmd);
  if (!decided.ok) return { ok: false, ...decided.rejection };
  const { params } = decided;
  const reply = await requestOperation(deps.store, cmd.clusterId, { kind: 'major-upgrade', params }, meta);
  if (!reply.ok) return reply;
  return { ...reply, result: { ...reply.result, ...params } };
}
