import { z } from 'zod';
import { BillingMonth } from '../events/account.js';
import { HourMinute } from '../events/backup.js';
import { Durability, PitrTargetTime, RestoreSource } from '../events/cluster.js';
import { Actor } from '../envelope.js';
import { AccountId, ClusterName, Id } from '../names.js';
import { ExtensionName } from '../extensions.js';
import { ParameterName, ParameterValue } from '../parameters.js';
import { PlanId, PostgresVersion } from '../plans.js';

/** Commands by the service that accepts them: `pgfleet.commands.{service}.{Command}`. */
export const COMMANDS = {
  provisioning: {
    CreateCluster: z.object({
      name: ClusterName,
      plan: PlanId,
      version: PostgresVersion.default(15),
      accountId: AccountId.default('default'),
      durability: Durability.default('available'),
      /**
       * Create it from another cluster's PITR archive, replayed to `targetTime` (ISO 8601 with an
       * offset): its leader is restored instead of initialized; the source cluster is untouched.
       */
      restoreFrom: RestoreSource.optional(),
    }),
    DeleteCluster: z.object({ clusterId: Id }),
    RetryCluster: z.object({ clusterId: Id }),
    /** Hand leadership to a follower (`to`, default the first follower): a clean, planned leader change. */
    SwitchoverCluster: z.object({ clusterId: Id, to: Id.optional() }),
    /**
     * Move the cluster to another plan online, as an operation (plan-change): followers added or
     * removed, the plan's configuration applied with a rolling restart, its gateways and quotas.
     */
    ChangePlan: z.object({ clusterId: Id, plan: PlanId }),
    /**
     * Restart every node, as an operation (restart): Business restarts the followers one by one,
     * switches over to one of them and restarts the old leader; one node restarts in place.
     */
    RestartCluster: z.object({
      clusterId: Id,
      /**
       * `minor-upgrade` (`pgfleet upgrade NAME --minor`): the same rolling restart, onto the installed
       * binaries of the cluster's major version, recorded with every node's server_version before and after.
       */
      reason: z.enum(['restart', 'minor-upgrade']).default('restart'),
    }),
    /**
     * Set PostgreSQL parameters (an allow-list, bounded by the plan), as an operation (config):
     * applied to every node with a reload, or a rolling restart when PostgreSQL says one is pending.
     */
    SetClusterParameters: z.object({
      clusterId: Id,
      /** At least one (an empty set is refused by the decider: VALIDATION_FAILED). */
      parameters: z.record(ParameterName, ParameterValue),
    }),
    /**
     * Create an allow-listed extension in the app database, as an operation (extension-enable); one
     * that needs shared_preload_libraries is added there first, on every node, with a rolling restart.
     */
    EnableExtension: z.object({ clusterId: Id, extension: ExtensionName }),
    /** Drop an enabled extension (never CASCADE), as an operation (extension-disable); its library is unloaded. */
    DisableExtension: z.object({ clusterId: Id, extension: ExtensionName }),
  },
  ha: {
    /**
     * Promote a follower of a cluster whose leader is lost (`to`, default the most advanced one):
     * an operation, fenced like an automatic failover. A follower that may miss acknowledged
     * commits is promoted only with `acceptDataLoss`.
     */
    FailoverCluster: z.object({ clusterId: Id, to: Id.optional(), acceptDataLoss: z.boolean().default(false) }),
    SetClusterDurability: z.object({ clusterId: Id, durability: Durability }),
  },
  networking: {
    ExposeCluster: z.object({ clusterId: Id }),
    UnexposeCluster: z.object({ clusterId: Id }),
    /** Only TLS connections over TCP (hostssl) on every node of the cluster; plaintext is refused from then on. */
    ForceTls: z.object({ clusterId: Id }),
    /** New node certificates from the cluster CA, loaded with a reload: no restart, open sessions carry on. */
    RotateCertificates: z.object({ clusterId: Id }),
  },
  backup: {
    RequestBackup: z.object({ clusterId: Id }),
    SetBackupSchedule: z.object({ clusterId: Id, at: HourMinute, tz: z.string().min(1).default('UTC') }),
    /**
     * Restore a completed backup into the leader of its cluster, or of `targetClusterId` (a ready
     * cluster): an operation; the reply carries its id.
     */
    RestoreBackup: z.object({
      clusterId: Id,
      backupId: Id,
      targetClusterId: Id.optional(),
      /** Restore into a NEW cluster of the same plan, created by the restore operation. */
      into: z.object({ name: ClusterName }).optional(),
    }),
  },
  pitr: {
    /** Take a PITR full backup (pgBackRest) of a Starter or Business cluster now; the reply carries its `backupId`. */
    RequestPitrBackup: z.object({ clusterId: Id }),
    /**
     * Restore the cluster's data as it was at `to` (ISO 8601 with an offset): into a new cluster of
     * the same plan named `into.name` (the source keeps running), or `inPlace` (its writes fenced,
     * its followers re-cloned, its window restarts). The reply carries the operation to follow.
     */
    RestoreToTime: z.object({
      clusterId: Id,
      to: PitrTargetTime,
      into: z.object({ name: ClusterName }).optional(),
      inPlace: z.boolean().default(false),
    }),
  },
  upgrade: {
    /**
     * Upgrade the cluster to PostgreSQL `toVersion` with pg_upgrade --link, as an operation
     * (major-upgrade); `checkOnly` runs pg_upgrade --check against the running cluster and stops there.
     */
    UpgradeCluster: z.object({ clusterId: Id, toVersion: PostgresVersion, checkOnly: z.boolean().default(false) }),
  },
  billing: {
    /** Issue the invoice of a closed month now (the service also does it by itself when a month closes). */
    IssueInvoice: z.object({ accountId: AccountId.default('default'), month: BillingMonth }),
    /** Compute an issued month again; when it differs, record `InvoiceCorrected` (never an edit). */
    CorrectInvoice: z.object({
      accountId: AccountId.default('default'),
      month: BillingMonth,
      reason: z.string().min(1),
    }),
  },
} as const;

export type ServiceName = keyof typeof COMMANDS;
export type CommandName<S extends ServiceName = ServiceName> = keyof (typeof COMMANDS)[S] & string;
export type CommandData<S extends ServiceName, C extends CommandName<S>> = z.infer<(typeof COMMANDS)[S][C]>;

/** Metadata sent with every command (NATS headers or body `meta`). */
export const CommandMeta = z.object({
  correlationId: z.string().min(1).optional(),
  actor: Actor.optional(),
  /**
   * The account the caller is scoped to, when it acts with an account's token (the API sets it
   * from the token, never from the request): a service may refuse a command about another
   * account's cluster. Absent for the admin and for the services' own commands.
   */
  account: AccountId.optional(),
  /** A client-chosen id: sending the same command twice does it once. */
  commandId: z.string().min(1).max(128).optional(),
});
export type CommandMeta = z.infer<typeof CommandMeta>;

/** The reply to a command request. */
export const CommandReply = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    streamId: z.string(),
    version: z.number().int().min(0),
    result: z.record(z.string(), z.unknown()).optional(),
  }),
  z.object({
    ok: z.literal(false),
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
]);
export type CommandReply = z.infer<typeof CommandReply>;

export function commandSchema(service: string, command: string): z.ZodType | undefined {
  const svc = (COMMANDS as Record<string, Record<string, z.ZodType>>)[service];
  return svc && Object.hasOwn(svc, command) ? svc[command] : undefined;
}
