import { BaseConfig } from '@pgfleet/kit';
import { z } from 'zod';

/** The upgrade service's configuration, from the environment: the kit's base settings and its own. */
export const UpgradeConfig = BaseConfig.extend({
  /** Replicas share the durable consumer `{this}-operations` of the major-upgrade operations. */
  PGFLEET_UPGRADE_DURABLE: z.string().min(1).default('upgrade'),
  /** How long the re-cloned followers may take to stream from the upgraded leader (seconds). */
  PGFLEET_UPGRADE_STREAMING_SECONDS: z.coerce.number().int('must be a whole number').min(1).default(300),
});
export type UpgradeConfig = z.infer<typeof UpgradeConfig>;
