import type { MeteredEvent } from './metering.js';

/**
 * A cluster's billed life, folded from its metered events: from its first ClusterReady (`start`) to
 * its ClusterDeleted (`end`), the plan in force from each instant, and the bytes over the disk
 * quota from each instant (0: under it). Instants are whole seconds since the epoch.
 */
export interface ClusterTimeline {
  clusterId: string;
  accountId: string;
  name: string;
  start?: number;
  end?: number;
  plans: { at: number; plan: string }[];
  disk: { at: number; overBytes: number }[];
}

/** Fold one metered event into the timelines (a new map entry is created for `created`). */
export function evolveTimelines(timelines: Map<string, ClusterTimeline>, event: MeteredEvent): void {
  if (event.kind === 'created') {
    const { clusterId, accountId, name, plan, at } = event;
    if (!timelines.has(clusterId)) {
      timelines.set(clusterId, { clusterId, accountId, name, plans: [{ at, plan }], disk: [] });
    }
    return;
  }
  const t = timelines.get(event.clusterId);
  if (!t || t.end !== undefined) return;
  switch (event.kind) {
    case 'ready':
      t.start ??= event.at;
      return;
    case 'planChanged':
      t.plans.push({ at: event.at, plan: event.plan });
      return;
    case 'deleted':
      t.end = event.at;
      return;
    case 'diskOverQuota':
      t.disk.push({ at: event.at, overBytes: event.overBytes });
      return;
    case 'diskUnderQuota':
      t.disk.push({ at: event.at, overBytes: 0 });
      return;
    default: {
      const never: never = event;
      throw new Error(`unhandled metered event ${JSON.stringify(never)}`);
    }
  }
}

/** The timelines of a list of metered events, in order. */
export function foldTimelines(events: readonly MeteredEvent[]): Map<string, ClusterTimeline> {
  const timelines = new Map<string, ClusterTimeline>();
  for (const e of events) evolveTimelines(timelines, e);
  return timelines;
}

/** The value of a step function at `at`: the last entry at or before it (entries are in event order). */
export function valueAt<T extends { at: number }>(steps: readonly T[], at: number): T | undefined {
  let found: T | undefined;
  for (const s of steps) if (s.at <= at) found = s;
  return found;
}
