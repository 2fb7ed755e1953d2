import type { EventStore } from '@pgfleet/eventstore';

/** Clusters that have (or had) gateways recorded and not removed: what a restarted service checks again. */
export async function clustersWithGateways(store: EventStore): Promise<string[]> {
  const live = new Map<string, boolean>();
  let after: string | null = null;
  for (;;) {
    const page = await store.readAll({ after, limit: 5000 });
    for (const e of page.events) {
      if (!e.streamId.startsWith('gateway-')) continue;
      const clusterId = e.streamId.slice('gateway-'.length);
      if (e.type === 'GatewayStarted') live.set(clusterId, true);
      else if (e.type === 'GatewaysRemoved') live.set(clusterId, false);
    }
    after = page.checkpoint;
    if (page.events.length < 5000) break;
  }
  return [...live].filter(([, on]) => on).map(([id]) => id);
}
