import type { EventEnvelope } from '@pgfleet/contracts';

/** The lifecycle status a cluster event leads to, for scanning the global order cheaply. */
export function applyStatus(status: Map<string, string>, e: EventEnvelope): void {
  if (!e.streamId.startsWith('cluster-')) return;
  const id = e.streamId.slice('cluster-'.length);
  switch (e.type) {
    case 'ClusterRequested': status.set(id, 'provisioning'); break;
    case 'ClusterReady': status.set(id, 'ready'); break;
    case 'ClusterProvisioningFailed': status.set(id, 'failed'); break;
    case 'ClusterProvisioningRetried': status.set(id, 'provisioning'); break;
    case 'ClusterDeletionRequested': status.set(id, 'deleting'); break;
    case 'ClusterDeleted': status.set(id, 'deleted'); break;
    default: break;
  }
}
