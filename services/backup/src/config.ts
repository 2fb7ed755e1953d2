import { BaseConfig } from '@pgfleet/kit';
import { z } from 'zod';

/** The backup service's configuration, from the environment: the kit's base settings and its own. */
export const BackupConfig = BaseConfig.extend({
  /** Where backup files live (default `$PGFLEET_HOME/backups`). */
  PGFLEET_BACKUP_DIR: z.string().min(1).optional(),
  /** Replicas of this service share one durable consumer and one command queue group. */
  PGFLEET_BACKUP_DURABLE: z.string().min(1).default('backup'),
});
export type BackupConfig = z.infer<typeof BackupConfig>;
