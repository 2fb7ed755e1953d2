import { foldClusterView, streamIds } from '@pgfleet/contracts';
import type { CommandData, CommandMeta, CommandReply } from '@pgfleet/contracts';
import { certIpAddresses, decideExpose } from '../domain/tls.js';
import { loadGateways, recordGateways } from '../workers/recordGateways.js';
import { reissueNodeCerts } from '../workers/reissueNodeCerts.js';
import type { CommandDeps } from './deps.js';

export interface ExposeDeps extends CommandDeps {
  /** Bring the gateways in line with the history (serialized with the service's other runs). */
  reconcile(clusterId: string): Promise<void>;
  /** The non-loopback address to listen on (PGFLEET_EXPOSE_ADDRESS). */
  exposeAddress: string;
}

/**
 * ExposeCluster: refused unless TLS is forced; then the node certificates also name the outside
 * address (clients can verify-full against it), ClusterExposed is recorded, and the gateways are
 * reloaded seamlessly to listen on it as well.
 */
export async function exposeCluster(
  deps: ExposeDeps,
  cmd: CommandData<'networking', 'ExposeCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const clusterEvents = (await deps.store.readStream(streamIds.cluster(cmd.clusterId))).events;
  const cluster = foldClusterView(clusterEvents);
  const gateways = await loadGateways(deps.store, cmd.clusterId);
  const decision = decideExpose(cluster, gateways);
  if (!decision.ok) return { ok: false, ...decision.rejection };
  if (decision.already) {
    const streamId = streamIds.gateway(cmd.clusterId);
    return { ok: true, streamId, version: gateways.version_, result: { ...gateways.exposed, changed: false } };
  }
  const address = deps.exposeAddress;
  await reissueNodeCerts(deps, cmd.clusterId, decision.nodes, certIpAddresses(address));
  const reply = await recordGateways(
    deps.store,
    cmd.clusterId,
    { type: 'Expose', address, clusterName: cluster.name },
    { ...meta, causationId: clusterEvents.at(-1)?.id ?? null },
  );
  if (!reply.ok) return reply;
  await deps.reconcile(cmd.clusterId);
  return { ...reply, result: { address, port: decision.port, changed: true } };
}

/** UnexposeCluster: ClusterUnexposed, then the gateways listen on loopback only again. Idempotent. */
export async function unexposeCluster(
  deps: ExposeDeps,
  cmd: CommandData<'networking', 'UnexposeCluster'>,
  meta: CommandMeta,
): Promise<CommandReply> {
  const changed = (await loadGateways(deps.store, cmd.clusterId)).exposed !== undefined;
  const reply = await recordGateways(deps.store, cmd.clusterId, { type: 'Unexpose' }, meta);
  if (!reply.ok) return reply;
  if (changed) await deps.reconcile(cmd.clusterId);
  return { ...reply, result: { changed } };
}
