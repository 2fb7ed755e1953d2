import { z } from 'zod';

/** The provisioning service's configuration, from the environment. */
export const ProvisioningConfig = z.object({
  PGFLEET_HOME: z.string().default('.pgfleet'),
  PGFLEET_NATS_URL: z.string().default('nats://127.0.0.1:14222'),
  PGFLEET_EVENTSTORE_URL: z.string().min(1),
  PGFLEET_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Replicas of this service share one durable consumer and one command queue group. */
  PGFLEET_PROVISIONING_DURABLE: z.string().default('provisioning'),
});
export type ProvisioningConfig = z.infer<typeof ProvisioningConfig>;
