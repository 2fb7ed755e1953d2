import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_STREAM } from '@pgfleet/contracts';
import { runAsPostgresOk, toolchain } from '@pgfleet/postgres';
import { postmastersUnder, psql, sleep, startPlatform, waitFor, type TestPlatform } from './harness.js';

/**
 * Nothing acknowledged and dropped: while the event store is down, the provisioning work that
 * cannot record its outcome is thrown back to JetStream (redelivered with a backoff), never
 * recorded as a failure of the cluster nor given up.
 */

let t: TestPlatform;
let nc: NatsConnection;

/** `pg_ctl` of the platform's embedded event store (under `$PGFLEET_HOME/eventstore`), as the postgres user. */
function eventStoreCtl(...args: string[]): Promise<string> {
  const dataDir = join(t.home, 'eventstore');
  const major = Number(readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim());
  return runAsPostgresOk(toolchain(major).bin('pg_ctl'), ['-D', dataDir, ...args]);
}

async function storeQuery<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: t.platform.eventstoreUrl });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  t = await startPlatform();
  nc = await t.connectNats('e2e-store-outage');
});
afterAll(async () => {
  await nc?.drain().catch(() => undefined);
  await t?.cleanup();
});

describe('the event store down in the middle of a provisioning', () => {
  it(
    "the event store's PostgreSQL stopped for 10 s one second into a Business creation: the cluster becomes ready " +
      'once it is back, with three servers, no failure and no HandlingFailed; every consumer has caught up',
    async () => {
      const created = await t.cli('cluster', 'create', 'outage', '--plan', 'business-1024', '--no-wait', '--json');
      expect(created.code, created.stderr).toBe(0);
      const { clusterId } = (JSON.parse(created.stdout) as { result: { clusterId: string } }).result;
      await sleep(1000);
      await eventStoreCtl('stop', '-m', 'fast', '-w');
      await sleep(10_000);
      await eventStoreCtl('start', '-w', '-t', '60', '-l', join(t.home, 'eventstore', 'server.log'));
      const back = new Date();

      const ready = await waitFor(
        'the cluster to be ready',
        async () => {
          const rows = await storeQuery<{ type: string; occurred_at: Date }>(
            `SELECT type, occurred_at FROM pgfleet_eventstore.events WHERE stream_id = $1 ORDER BY stream_version`,
            [`cluster-${clusterId}`],
          ).catch(() => []);
          return rows.find((r) => r.type === 'ClusterReady' || r.type === 'ClusterProvisioningFailed');
        },
        240_000,
      );
      expect(ready.type).toBe('ClusterReady');
      // The creation was under way during the outage: it completed after the store came back.
      expect(ready.occurred_at.getTime()).toBeGreaterThan(back.getTime());

      const failures = await storeQuery<{ stream_id: string; data: unknown }>(
        `SELECT stream_id, data FROM pgfleet_eventstore.events
          WHERE type IN ('HandlingFailed', 'NodeFailed', 'ClusterProvisioningFailed')`,
      );
      expect(failures).toEqual([]);
      expect(postmastersUnder(`${t.home}/clusters/${clusterId}`)).toHaveLength(3);

      // Nothing stuck: every durable consumer has handled (and acknowledged) everything.
      const jsm = await jetstream(nc).jetstreamManager();
      await waitFor(
        'every consumer to catch up',
        async () => {
          const consumers = await jsm.consumers.list(EVENTS_STREAM).next();
          return consumers.every((c) => c.num_pending === 0 && c.num_ack_pending === 0) || undefined;
        },
        120_000,
      );

      const url = await waitFor(
        'the URL',
        async () => {
          const r = await t.cli('cluster', 'url', 'outage');
          return r.code === 0 ? r.stdout.trim() : undefined;
        },
        60_000,
      );
      await waitFor(
        'a write through the gateway',
        () => {
          try {
            return (
              psql(url, 'CREATE TABLE t(v int); INSERT INTO t VALUES (1); SELECT count(*) FROM t') === '1' || undefined
            );
          } catch {
            return undefined;
          }
        },
        60_000,
      );
    },
  );
});
