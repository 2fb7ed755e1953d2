import { BaseConfig } from '@pgfleet/kit';
import { z } from 'zod';

const seconds = (fallback: number) => z.coerce.number().int('must be a whole number').min(1).default(fallback);

/** The pitr service's configuration, from the environment: the kit's base settings and its own. */
export const PitrConfig = BaseConfig.extend({
  /**
   * Replicas of this service share one durable consumer and one command queue group; PITR
   * operations (restore to a time) are consumed by the durable `{this}-operations`.
   */
  PGFLEET_PITR_DURABLE: z.string().min(1).default('pitr'),
  /**
   * The pgBackRest repository of every cluster's archive (default `{data root}/pitr/repo`): another
   * disk here; the same value for every service that sets up nodes, since archive_command names it.
   */
  PGFLEET_PITR_REPO: z.string().min(1).optional(),
  /** How often the archiver of every archived cluster's leader is checked (`pg_stat_archiver`). */
  PGFLEET_PITR_MONITOR_SECONDS: seconds(30),
  /** WAL waiting longer than this since the last archived segment records WalArchivingDelayed. */
  PGFLEET_PITR_LAG_THRESHOLD_SECONDS: seconds(300),
});
export type PitrConfig = z.infer<typeof PitrConfig>;
