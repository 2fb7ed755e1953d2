import { z } from 'zod';

/** The backup service's configuration, from the environment. */
export const BackupConfig = z.object({
  PGFLEET_HOME: z.string().default('.pgfleet'),
  PGFLEET_NATS_URL: z.string().default('nats://127.0.0.1:14222'),
  PGFLEET_EVENTSTORE_URL: z.string().min(1),
  PGFLEET_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Where backup files live (default `$PGFLEET_HOME/backups`). */
  PGFLEET_BACKUP_DIR: z.string().optional(),
  /** Replicas of this service share one durable consumer and one command queue group. */
  PGFLEET_BACKUP_DURABLE: z.string().default('backup'),
});
export type BackupConfig = z.infer<typeof BackupConfig>;
