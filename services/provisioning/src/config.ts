import { BaseConfig } from '@pgfleet/kit';
import { z } from 'zod';

/** The provisioning service's configuration, from the environment (the common settings and its own). */
export const ProvisioningConfig = BaseConfig.extend({
  /** Replicas of this service share one durable consumer and one command queue group. */
  PGFLEET_PROVISIONING_DURABLE: z.string().min(1).default('provisioning'),
});
export type ProvisioningConfig = z.infer<typeof ProvisioningConfig>;
