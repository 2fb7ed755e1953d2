import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsInboxPrefix } from './natsPermissions.js';

export interface BusConnectOptions {
  /** One URL or several (`nats://127.0.0.1:4222`); a NATS cluster's seed list. */
  servers: string | string[];
  /** Connection name shown by the server (`pgfleet-backup`, `pgfleet-relay`). */
  name: string;
  /** TLS towards the server: CA to verify it, and optionally a client certificate. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** A platform user (see natsPermissions): its replies then arrive under its own inbox prefix, `_INBOX_{user}`. */
  user?: string;
  pass?: string;
  /** Wait between reconnect attempts (default 250 ms, with jitter). */
  reconnectWaitMs?: number;
  /** Keep retrying a first connect that fails (default true: services may start before NATS). */
  waitOnFirstConnect?: boolean;
}

/**
 * Connect to NATS the way every pgfleet process does: reconnect forever with a short wait, so a
 * restarted server is picked up again within a fraction of a second; JetStream publishes and
 * pulls in flight fail and are retried by their callers.
 */
export function connectBus(opts: BusConnectOptions): Promise<NatsConnection> {
  const wait = opts.reconnectWaitMs ?? 250;
  return connect({
    servers: opts.servers,
    name: opts.name,
    ...(opts.tls ? { tls: { ...opts.tls } } : {}),
    // A user may subscribe only to its own inbox, so nobody reads the replies meant for another.
    ...(opts.user !== undefined ? { user: opts.user, pass: opts.pass, inboxPrefix: natsInboxPrefix(opts.user) } : {}),
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: wait,
    reconnectJitter: Math.round(wait / 5),
    reconnectJitterTLS: Math.round(wait / 2),
    waitOnFirstConnect: opts.waitOnFirstConnect ?? true,
    pingInterval: 10_000,
    maxPingOut: 3,
  });
}
