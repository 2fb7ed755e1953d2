import { z } from 'zod';
import { AccountId, ClusterName, PlanId, PostgresVersion } from '@pgfleet/contracts';

/** Bodies and queries of the HTTP API; the OpenAPI document is generated from these. */
export const CreateClusterBody = z.object({
  name: ClusterName,
  plan: PlanId,
  version: PostgresVersion.default(15),
  accountId: AccountId.default('default'),
});

export const AccountQuery = z.object({ accountId: AccountId.default('default') });

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
