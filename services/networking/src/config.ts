import { z } from 'zod';

/** The networking service's configuration, from the environment. */
export const NetworkingConfig = z.object({
  PGFLEET_HOME: z.string().default('.pgfleet'),
  PGFLEET_NATS_URL: z.string().default('nats://127.0.0.1:14222'),
  PGFLEET_EVENTSTORE_URL: z.string().min(1),
  PGFLEET_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Replicas of this service share one durable consumer. */
  PGFLEET_NETWORKING_DURABLE: z.string().default('networking'),
  /** The address gateways listen on (loopback unless a cluster is exposed). */
  PGFLEET_GATEWAY_HOST: z.string().default('127.0.0.1'),
  /** The non-loopback address `pgfleet cluster expose` makes gateways listen on. */
  PGFLEET_EXPOSE_ADDRESS: z.string().default('0.0.0.0'),
});
export type NetworkingConfig = z.infer<typeof NetworkingConfig>;
