import { BaseConfig } from '@pgfleet/kit';
import { z } from 'zod';

/** The backup service's configuration, from the environment: the kit's base settings and its own. */
export const BackupConfig = BaseConfig.extend({
  /** Where backup files live (default `$PGFLEET_HOME/backups`). */
  PGFLEET_BACKUP_DIR: z.string().min(1).optional(),
  /**
   * Replicas of this service share one durable consumer and one command queue group; restore
   * operations are consumed by the durable `{this}-operations`.
   */
  PGFLEET_BACKUP_DURABLE: z.string().min(1).default('backup'),
  /** How long a restore `--into NEW` waits for the new cluster to be ready. */
  PGFLEET_RESTORE_TARGET_TIMEOUT_MS: z.coerce.number().int('must be a whole number').min(1000).default(600_000),
  /** How often the backups kept after a cluster's delete are checked for the end of their retention. */
  PGFLEET_BACKUP_RETENTION_CHECK_SECONDS: z.coerce.number().int('must be a whole number').min(1).default(3600),
});
export type BackupConfig = z.infer<typeof BackupConfig>;
