import { AccountId, ClusterName, DiskQuotaExceeded, EVENTS, Id } from '@pgfleet/contracts';
import { z } from 'zod';
import { toSeconds } from './months.js';

/**
 * What billing reads of the history, in its own words: each fact about a cluster that changes what
 * it costs, at a whole second. Billing starts at the cluster's first `ClusterReady` (a cluster
 * being provisioned, or whose provisioning failed, costs nothing) on the plan of its
 * `ClusterRequested`; `ClusterPlanChanged` switches the plan from its instant; `ClusterDeleted`
 * stops it. Disk over quota is billed from `QuotaExceeded {kind: 'disk', used, limit}` (bytes) to
 * `DiskUsageBackUnderQuota`.
 */
export type MeteredEvent =
  | { kind: 'created'; clusterId: string; accountId: string; name: string; plan: string; at: number }
  | { kind: 'ready'; clusterId: string; at: number }
  | { kind: 'planChanged'; clusterId: string; plan: string; at: number }
  | { kind: 'deleted'; clusterId: string; at: number }
  | { kind: 'diskOverQuota'; clusterId: string; overBytes: number; at: number }
  | { kind: 'diskUnderQuota'; clusterId: string; at: number };

/** An event as stored (an EventEnvelope fits); its type a plain string, so any type of the store fits. */
export interface RecordedEvent {
  type: string;
  streamId: string;
  occurredAt: string;
  data: unknown;
}

/**
 * The event types billing reads, each with its schema in the contracts: `ClusterPlanChanged {from,
 * to}` (recorded by the plan-change operation), the disk `QuotaExceeded {kind: 'disk', clusterId,
 * used, limit}` and `DiskUsageBackUnderQuota {clusterId, used, limit}` (on `disk-{clusterId}`,
 * recorded by the disk measurement). A backup `QuotaExceeded` (with `quota`, no `kind`) is not billed.
 */
export const METERED_TYPES = [
  'ClusterRequested',
  'ClusterReady',
  'ClusterPlanChanged',
  'ClusterDeleted',
  'QuotaExceeded',
  'DiskUsageBackUnderQuota',
] as const;

/** `ClusterPlanChanged` on `cluster-{id}`: the plan `to` is in force from this instant. */
const PlanChanged = EVENTS.ClusterPlanChanged.schema;
/** The data went back under the disk quota: overage billing stops. */
const DiskBack = EVENTS.DiskUsageBackUnderQuota.schema;
const Requested = z.object({ clusterId: Id, accountId: AccountId, name: ClusterName, plan: z.string() });

/** The cluster a stream is about: `cluster-abc` -> `abc`. */
const idOfStream = (streamId: string): string => streamId.slice(streamId.indexOf('-') + 1);

/** Billing's reading of a recorded event, or undefined when it does not change what anything costs. */
export function meteredEventOf(event: RecordedEvent): MeteredEvent | undefined {
  const at = toSeconds(event.occurredAt);
  const clusterId = idOfStream(event.streamId);
  switch (event.type) {
    case 'ClusterRequested': {
      const d = Requested.parse(event.data);
      return { kind: 'created', clusterId: d.clusterId, accountId: d.accountId, name: d.name, plan: d.plan, at };
    }
    case 'ClusterReady':
      return EVENTS.ClusterReady.schema.safeParse(event.data).success ? { kind: 'ready', clusterId, at } : undefined;
    case 'ClusterPlanChanged': {
      const d = PlanChanged.safeParse(event.data);
      return d.success ? { kind: 'planChanged', clusterId, plan: d.data.to, at } : undefined;
    }
    case 'ClusterDeleted':
      return { kind: 'deleted', clusterId, at };
    case 'QuotaExceeded': {
      const d = DiskQuotaExceeded.safeParse(event.data);
      if (!d.success) return undefined;
      const overBytes = Math.max(0, d.data.used - d.data.limit);
      return { kind: 'diskOverQuota', clusterId: d.data.clusterId, overBytes, at };
    }
    case 'DiskUsageBackUnderQuota': {
      const d = DiskBack.safeParse(event.data);
      return d.success ? { kind: 'diskUnderQuota', clusterId: d.data.clusterId, at } : undefined;
    }
    default:
      return undefined;
  }
}
