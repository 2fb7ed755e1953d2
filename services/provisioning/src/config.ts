import { BaseConfig } from '@pgfleet/kit';
import { z } from 'zod';

/** The provisioning service's configuration, from the environment (the common settings and its own). */
export const ProvisioningConfig = BaseConfig.extend({
  /** Replicas of this service share one durable consumer and one command queue group. */
  PGFLEET_PROVISIONING_DURABLE: z.string().min(1).default('provisioning'),
  /** Validity of a new cluster's node certificates, in days (networking renews them: same variable). */
  PGFLEET_NODE_CERT_DAYS: z.coerce.number().int().positive().default(365),
});
export type ProvisioningConfig = z.infer<typeof ProvisioningConfig>;
