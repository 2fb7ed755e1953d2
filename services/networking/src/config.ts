import { BaseConfig } from '@pgfleet/kit';
import { z } from 'zod';

/** `host:port` (an IPv6 address as `[addr]:port`) read as `{ host, port }`. */
const HostPort = z.string().transform((value, ctx) => {
  const m = /^(?:\[([^\]\s]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(value);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) {
    ctx.addIssue({ code: 'custom', message: 'must be host:port, e.g. 127.0.0.1:7490' });
    return z.NEVER;
  }
  return { host: (m[1] ?? m[2]) as string, port };
});

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
  /**
   * `host:port` of the HA service's agent: every server of every gateway gets an HAProxy agent
   * check asking it (`{clusterId} {nodeId} rw|ro`, answered `up` or `down`). Unset: no agent check.
   */
  PGFLEET_HA_AGENT: HostPort.optional(),
});
export type NetworkingConfig = z.infer<typeof NetworkingConfig>;
