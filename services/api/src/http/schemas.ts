import { z } from 'zod';
import { AccountId, ClusterName, Durability, Id, PlanId, PostgresVersion } from '@pgfleet/contracts';

/** Bodies and queries of the HTTP API; the OpenAPI document is generated from these. */
export const CreateClusterBody = z.object({
  name: ClusterName,
  plan: PlanId,
  version: PostgresVersion.default(15),
  /** An account token's own account (naming another is 403); the admin's choice, `default` when absent. */
  accountId: AccountId.optional(),
  /** What the leader does when no follower acknowledges commits: `strict` waits, `available` goes asynchronous. */
  durability: Durability.default('available'),
});

/** `POST /v1/clusters/{name}/failover`: the follower to promote, and consent to lose acknowledged commits. */
export const FailoverBody = z
  .object({
    /** Default: the most advanced follower that confirmed it is fenced from the old leader. */
    to: Id.optional(),
    /** Promote even a follower that may miss commits the old leader acknowledged (durability `available`). */
    acceptDataLoss: z.boolean().default(false),
  })
  .strict();

/** `PUT /v1/clusters/{name}/durability`. */
export const DurabilityBody = z.object({ durability: Durability }).strict();

/** `?accountId=`: the admin's choice of account (`default` when absent); an account token may name only its own. */
export const AccountQuery = z.object({ accountId: AccountId.optional() });

export const AuditQuery = AccountQuery.extend({
  at: z.iso.datetime({ offset: true }).optional(),
  /** Only events of these types (comma-separated), e.g. `BackupCompleted,LeaderChanged`. */
  type: z
    .string()
    .regex(/^[A-Za-z]+(,[A-Za-z]+)*$/, 'must be event types separated by commas')
    .optional(),
});

export const ErrorBody = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
