import { BaseConfig } from '@pgfleet/kit';
import { z } from 'zod';

/** The networking service's configuration, from the environment (kit's base settings and its own). */
export const NetworkingConfig = BaseConfig.extend({
  /** Replicas of this service share one durable consumer. */
  PGFLEET_NETWORKING_DURABLE: z.string().min(1).default('networking'),
  /** Durable consumer of OperationRequested (tls-force, certs-rotate, expose, unexpose); replicas share it. */
  PGFLEET_NETWORKING_OPERATIONS_DURABLE: z.string().min(1).default('networking-operations'),
  /** The address gateways listen on (loopback unless a cluster is exposed). */
  PGFLEET_GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  /** The non-loopback address `pgfleet cluster expose` makes gateways listen on. */
  PGFLEET_EXPOSE_ADDRESS: z.string().min(1).default('0.0.0.0'),
});
export type NetworkingConfig = z.infer<typeof NetworkingConfig>;
