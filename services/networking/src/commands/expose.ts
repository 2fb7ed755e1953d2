import { streamIds, type CommandData, type CommandMeta, type CommandReply } from '@pgfleet/contracts';
import { WrongExpectedVersion } from '@pgfleet/eventstore';
import { foldClusterView } from '../domain/clusterView.js';
import { entryPoint, foldGateways } from '../domain/gateways.js';
import { decideExpose } from '../domain/tls.js';
import type { EventStore } from '@pgfleet/eventstore';
import { NETWORKING_ACTOR } from '../workers/reconcileGateways.js';
import { reissueNodeCerts } from './rotateCertificates.js';

export interface ExposeDeps {
  store: EventStore;
  home: string;
  /** Bring the gateways in line with the history (serialized with the service's other runs). */
  reconcile(clusterId: string): Promise<void>;
  /** The non-loopback address to listen on (PGFLEET_EXPOSE_ADDRESS). */
  exposeAddress: string;
}

const conflict: CommandReply = { ok: false, code: 'CONFLICT', message: 'the gateways changed meanwhile; send the command again' };

/**
 * ExposeCluster: refused unless TLS is forced; then the node certificates also name the outside
 * address (clients can verify-full against it), ClusterExposed is recorded, and the gateways are
 * reloaded seamlessly to listen on it as well.
 */
export async function exposeCluster(deps: ExposeDeps, cmd: CommandData<'networking', 'ExposeCluster'>, meta: CommandMeta): Promise<CommandReply> {
  const clusterEvents = (await deps.store.readStream(streamIds.cluster(cmd.clusterId))).events;
  const cluster = foldClusterView(clusterEvents);
  const streamId = streamIds.gateway(cmd.clusterId);
  const gateways = foldGateways((await deps.store.readStream(streamId)).events);
  const decision = decideExpose(cluster, gateways);
  if (!decision.ok) return { ok: false, ...decision.rejection };
  const port = entryPoint(gateways)!.port;
  if (decision.already) return { ok: true, streamId, version: gateways.version_, result: { ...gateways.exposed, changed: false } };
  const ip = /^[0-9.]+$/.test(deps.exposeAddress) && deps.exposeAddress !== '0.0.0.0' ? [deps.exposeAddress] : [];
  const nodes = cluster.nodes.flatMap((n) => (n.dataDir && n.port ? [{ nodeId: n.nodeId, dataDir: n.dataDir, port: n.port }] : []));
  await reissueNodeCerts(deps.home, cmd.clusterId, nodes, ip);
  try {
    const res = await deps.store.appendToStream(streamId, [{
      type: 'ClusterExposed', data: { address: deps.exposeAddress, port },
      actor: meta.actor ?? NETWORKING_ACTOR, correlationId: meta.correlationId, causationId: clusterEvents.at(-1)?.id ?? null,
    }], { expectedVersion: gateways.version_ });
    await deps.reconcile(cmd.clusterId);
    return { ok: true, streamId, version: res.nextExpectedVersion, result: { address: deps.exposeAddress, port, changed: true } };
  } catch (error) {
    if (error instanceof WrongExpectedVersion) return conflict;
    throw error;
  }
}

/** UnexposeCluster: ClusterUnexposed, then the gateways listen on loopback only again. Idempotent. */
export async function unexposeCluster(deps: ExposeDeps, cmd: CommandData<'networking', 'UnexposeCluster'>, meta: CommandMeta): Promise<CommandReply> {
  const streamId = streamIds.gateway(cmd.clusterId);
  const gateways = foldGateways((await deps.store.readStream(streamId)).events);
  if (gateways.version_ === 0) return { ok: false, code: 'CLUSTER_NOT_FOUND', message: 'no such cluster (or it has no gateway yet)', details: { field: 'clusterId' } };
  if (!gateways.exposed) return { ok: true, streamId, version: gateways.version_, result: { changed: false } };
  try {
    const res = await deps.store.appendToStream(streamId, [{ type: 'ClusterUnexposed', data: {}, actor: meta.actor ?? NETWORKING_ACTOR, correlationId: meta.correlationId }], { expectedVersion: gateways.version_ });
    await deps.reconcile(cmd.clusterId);
    return { ok: true, streamId, version: res.nextExpectedVersion, result: { changed: true } };
  } catch (error) {
    if (error instanceof WrongExpectedVersion) return conflict;
    throw error;
  }
}
