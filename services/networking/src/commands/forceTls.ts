import { join } from 'node:path';
import { streamIds, type CommandData, type CommandMeta, type CommandReply } from '@pgfleet/contracts';
import { WrongExpectedVersion, type EventStore } from '@pgfleet/eventstore';
import { nodeSocketDir, renderHba, withClient, writeOwnedFile } from '@pgfleet/postgres';
import { foldClusterView } from '../domain/clusterView.js';
import { foldGateways } from '../domain/gateways.js';
import { decideForceTls } from '../domain/tls.js';
import { NETWORKING_ACTOR } from '../workers/reconcileGateways.js';

/** The replication role provisioning creates (pg_hba.conf names it). */
const REPLICATION_ROLE = 'replicator';

/**
 * ForceTls: every node's pg_hba.conf accepts TCP only as `hostssl` (plaintext refused), applied
 * with a reload (no restart, open TLS sessions and replication carry on), then TlsForced is
 * recorded. Idempotent: forcing again rewrites nothing and records nothing.
 */
export async function forceTls(deps: { store: EventStore }, cmd: CommandData<'networking', 'ForceTls'>, meta: CommandMeta): Promise<CommandReply> {
  const clusterEvents = (await deps.store.readStream(streamIds.cluster(cmd.clusterId))).events;
  const streamId = streamIds.gateway(cmd.clusterId);
  const gateways = foldGateways((await deps.store.readStream(streamId)).events);
  const decision = decideForceTls(foldClusterView(clusterEvents), gateways);
  if (!decision.ok) return { ok: false, ...decision.rejection };
  if (decision.already) return { ok: true, streamId, version: gateways.version_, result: { tlsForced: true, changed: false } };
  for (const n of decision.nodes) {
    writeOwnedFile(join(n.dataDir, 'pg_hba.conf'), renderHba({ replicationRole: REPLICATION_ROLE, forceTls: true }));
    await withClient({ host: nodeSocketDir(n.dataDir), port: n.port, user: 'postgres', database: 'postgres' },
      (q) => q.query('SELECT pg_reload_conf()'));
  }
  try {
    const res = await deps.store.appendToStream(streamId, [{
      type: 'TlsForced', data: { nodes: decision.nodes.map((n) => n.nodeId) },
      actor: meta.actor ?? NETWORKING_ACTOR, correlationId: meta.correlationId, causationId: clusterEvents.at(-1)?.id ?? null,
    }], { expectedVersion: gateways.version_ });
    return { ok: true, streamId, version: res.nextExpectedVersion, result: { tlsForced: true, changed: true } };
  } catch (error) {
    if (error instanceof WrongExpectedVersion) return { ok: false, code: 'CONFLICT', message: 'the gateways changed meanwhile; send the command again' };
    throw error;
  }
}

