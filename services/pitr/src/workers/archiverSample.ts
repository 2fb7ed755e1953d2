import { withClient } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';
import type { ArchiverSample } from '../domain/archiver.js';

interface Row {
  now: string;
  last_archived_wal: string | null;
  last_archived_time: string | null;
  last_failed_wal: string | null;
  last_failed_time: string | null;
  failed_count: string;
  pending: string;
}

const SQL = `
  SELECT to_json(clock_timestamp())#>>'{}' AS now,
         last_archived_wal, to_json(last_archived_time)#>>'{}' AS last_archived_time,
         last_failed_wal, to_json(last_failed_time)#>>'{}' AS last_failed_time,
         failed_count::text AS failed_count,
         (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready')::text AS pending
    FROM pg_stat_archiver`;

const iso = (t: string | null) => (t === null ? undefined : new Date(t).toISOString());

/** Read the archiver of a node (the leader) now: `pg_stat_archiver` and the segments waiting for it. */
export async function sampleArchiver(runtime: NodeRuntime, runtimeId: string): Promise<ArchiverSample> {
  const endpoint = await runtime.endpoint(runtimeId);
  const row = await withClient(endpoint, async (q) => (await q.query<Row>(SQL)).rows[0]!);
  const optional = <K extends string>(key: K, value: string | null | undefined) =>
    (value == null ? {} : { [key]: value }) as Partial<Record<K, string>>;
  return {
    now: iso(row.now)!,
    failedCount: Number(row.failed_count),
    pendingSegments: Number(row.pending),
    ...optional('lastArchivedAt', iso(row.last_archived_time)),
    ...optional('lastArchivedWal', row.last_archived_wal),
    ...optional('lastFailedAt', iso(row.last_failed_time)),
    ...optional('lastFailedWal', row.last_failed_wal),
  };
}
