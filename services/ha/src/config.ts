import { BaseConfig } from '@pgfleet/kit';
import { z } from 'zod';

const ms = (fallback: number) =>
  z.coerce.number().int('must be a whole number').positive('must be > 0').default(fallback);

/** The HA service's configuration, from the environment (the common settings and its own). */
export const HaConfig = BaseConfig.extend({
  /** Replicas of this service share one durable consumer and one command queue group. */
  PGFLEET_HA_DURABLE: z.string().min(1).default('ha'),
  /** How often every data node is probed. */
  PGFLEET_HA_PROBE_INTERVAL_MS: ms(500),
  /** A probe that has not answered by then counts as failed. */
  PGFLEET_HA_PROBE_TIMEOUT_MS: ms(500),
  /** How long a running leader must stay silent before it is declared lost (with no follower streaming). */
  PGFLEET_HA_LEADER_GRACE_MS: ms(1000),
  /** `available` durability: how long a leader waits for a follower before it goes asynchronous. */
  PGFLEET_HA_SYNC_GRACE_MS: ms(3000),
  /** Replay lag beyond which a follower is reported lagging. */
  PGFLEET_HA_LAG_BYTES: ms(16 * 1024 * 1024),
  /** After an automatic failover that could not start or failed, the next attempt waits this long. */
  PGFLEET_HA_FAILOVER_BACKOFF_MS: ms(30_000),
  /** How often each ready cluster's data size is measured (the disk quota). */
  PGFLEET_HA_DISK_INTERVAL_MS: ms(60_000),
  /** Every cluster's disk limit in bytes instead of its plan's `diskGb` GiB: for tests and trials only. */
  PGFLEET_HA_DISK_LIMIT_BYTES: z.coerce.number().int('must be a whole number').positive('must be > 0').optional(),
  /** `host:port` where the gateways' HAProxy agent checks ask whether a node takes writes (or reads). */
  PGFLEET_HA_AGENT: z
    .string()
    .regex(/^(\[[0-9A-Fa-f:]+\]|[0-9A-Za-z.-]+):\d{1,5}$/, 'must be host:port')
    .optional(),
});
export type HaConfig = z.infer<typeof HaConfig>;
