import { AccountId, ClusterName, EVENTS, Id } from '@pgfleet/contracts';
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

/**
 * An event as stored (an EventEnvelope fits). Its type is a plain string, so the types other
 * packages have not defined yet fit too.
 */
export interface RecordedEvent {
  type: string;
  streamId: string;
  occurredAt: string;
  data: unknown;
}

/**
 * The event types billing reads. `ClusterPlanChanged`, the disk `QuotaExceeded` and
 * `DiskUsageBackUnderQuota` are read with the shapes below as soon as the plan-change operation and
 * the disk measurement record them (a backup `QuotaExceeded`, with `quota` and no `kind`, is not billed).
 */
export const METERED_TYPES = [
  'ClusterRequested',
  'ClusterReady',
  'ClusterPlanChanged',
  'ClusterDeleted',
  'QuotaExceeded',
  'DiskUsageBackUnderQuota',
] as const;

/** `ClusterPlanChanged` on `cluster-{id}`: the new plan is in force from this instant. */
const PlanChanged = z.object({ to: z.string().min(1) });
/** `QuotaExceeded {kind: 'disk'}`: the data take `used` bytes of a `limit` of bytes. */
const DiskQuotaExceeded = z.object({
  kind: z.literal('disk'),
  clusterId: Id.optional(),
  used: z.number().int().min(0),
  limit: z.number().int().min(0),
});
const DiskBack = z.object({ clusterId: Id.optional() });
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
      return { kind: 'diskOverQuota', clusterId: d.data.clusterId ?? clusterId, overBytes, at };
    }
    case 'DiskUsageBackUnderQuota': {
      const d = DiskBack.safeParse(event.data);
      return d.success ? { kind: 'diskUnderQuota', clusterId: d.data.clusterId ?? clusterId, at } : undefined;
    }
    default:
      return undefined;
  }
}
