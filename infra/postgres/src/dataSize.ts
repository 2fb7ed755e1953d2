import { withClient, type SqlTarget } from './sql.js';

/**
 * The bytes all databases of a server take on disk (`pg_database_size` summed over `pg_database`,
 * templates included): the data a cluster's plan sizes. WAL, temporary files and the server's
 * logs are not counted (their room is the platform's, sized by `max_wal_size`).
 */
export async function databasesSize(target: SqlTarget): Promise<number> {
  return withClient(target, async (q) => {
    const r = await q.query<{ bytes: string }>(
      'SELECT coalesce(sum(pg_database_size(oid)), 0)::bigint::text AS bytes FROM pg_database',
    );
    return Number(r.rows[0]?.bytes ?? 0);
  });
}
