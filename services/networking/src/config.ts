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
  /** Validity of the node certificates networking issues (rotation, renewal, expose), in days. */
  PGFLEET_NODE_CERT_DAYS: z.coerce.number().int().positive().default(365),
  /** A node certificate is renewed (like `certs --rotate`, no restart) this long before it expires. */
  PGFLEET_CERT_RENEW_BEFORE_DAYS: z.coerce.number().positive().default(30),
  /** How often node certificates are checked for renewal (and once at start), in seconds. */
  PGFLEET_CERT_CHECK_INTERVAL_S: z.coerce.number().int().positive().default(3600),
}).refine((c) => c.PGFLEET_NODE_CERT_DAYS > c.PGFLEET_CERT_RENEW_BEFORE_DAYS, {
  // Else every new certificate would be due at once, and every check would renew it again.
  message: 'must be shorter than PGFLEET_NODE_CERT_DAYS',
  path: ['PGFLEET_CERT_RENEW_BEFORE_DAYS'],
});
export type NetworkingConfig = z.infer<typeof NetworkingConfig>;
