import {
  foldBackups,
  foldClusterView,
  foldDisk,
  foldGateways,
  isKept,
  streamIds,
  type Backup,
  type ClusterView,
  type EventEnvelope,
  type GatewaysState,
} from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';

/** Every stream about one cluster: its own, its backups, its gateways, PITR, upgrades and disk quota. */
const clusterStreams = (clusterId: string): string[] => [
  streamIds.cluster(clusterId),
  streamIds.backups(clusterId),
  streamIds.gateway(clusterId),
  streamIds.pitr(clusterId),
  streamIds.upgrade(clusterId),
  streamIds.disk(clusterId),
];

/**
 * One history per cluster: the events of all its streams (up to `until`), merged in the store's
 * global order (`globalPosition`).
 */
export async function readClusterHistory(store: EventStore, clusterId: string, until?: Date): Promise<EventEnvelope[]> {
  const streams = await Promise.all(
    clusterStreams(clusterId).map(async (streamId) => (await store.readStream(streamId, { until })).events),
  );
  return streams.flat().sort((a, b) => comparePositions(a.globalPosition, b.globalPosition));
}

/** Global positions are decimal strings (they outgrow a double): compare them as big integers. */
function comparePositions(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A cluster at an instant, folded from all its streams with the contracts' views. */
export interface ClusterAt extends Omit<ClusterView, 'version_'> {
  streamVersion: number;
  gateways: Pick<GatewaysState, 'gateways' | 'leader' | 'removed'> & { exposed: GatewaysState['exposed'] | null };
  tls: { forced: boolean; certificatesRotatedAt: string | null; certificatesNotAfter: string | null };
  backups: { available: Backup[]; schedule: { at: string; tz: string } | null };
  /** The data size last recorded and the disk quota (bytes); null before the first measurement. */
  disk: { used: number; limit: number; over: boolean } | null;
}

export function foldClusterHistory(events: readonly EventEnvelope[]): ClusterAt {
  const of = (streamId: string) => events.filter((e) => e.streamId.startsWith(`${streamId}-`));
  const { version_, ...cluster } = foldClusterView(of('cluster'));
  const gatewayEvents = of('gateway');
  const gw = foldGateways(gatewayEvents);
  const rotated = gatewayEvents.findLast((e) => e.type === 'CertificatesRotated');
  const backups = foldBackups(of('backups'));
  const disk = foldDisk(of('disk'));
  return {
    ...cluster,
    streamVersion: version_,
    gateways: { gateways: gw.gateways, leader: gw.leader, removed: gw.removed, exposed: gw.exposed ?? null },
    tls: {
      forced: gw.tlsForced,
      certificatesRotatedAt: rotated?.occurredAt ?? null,
      certificatesNotAfter: rotated?.type === 'CertificatesRotated' ? rotated.data.notAfter : null,
    },
    backups: {
      available: backups.backups.filter(isKept),
      schedule: backups.schedule ? { at: backups.schedule.at, tz: backups.schedule.tz } : null,
    },
    disk:
      disk.used !== undefined && disk.limit !== undefined
        ? { used: disk.used, limit: disk.limit, over: disk.over }
        : null,
  };
}
