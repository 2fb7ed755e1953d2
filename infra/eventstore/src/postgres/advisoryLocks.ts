import pg from 'pg';

/** Releases a lock taken with `tryLock`. */
export type ReleaseLock = () => Promise<void>;

export interface AdvisoryLocks {
  /**
   * Take the lock named `key` if nobody holds it (undefined otherwise), on a connection of its own
   * held until release: a holder that dies (its connection closes) frees it at once.
   */
  tryLock(key: string): Promise<ReleaseLock | undefined>;
}

/** Session advisory locks of the event store's PostgreSQL: one holder per key across every process. */
export function createAdvisoryLocks(connectionString: string): AdvisoryLocks {
  return {
    async tryLock(key) {
      const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000 });
      client.on('error', () => undefined); // a lost connection only frees the lock
      await client.connect();
      try {
        const sql = 'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok';
        const { ok } = (await client.query<{ ok: boolean }>(sql, [key])).rows[0]!;
        if (!ok) {
          await client.end();
          return undefined;
        }
      } catch (error) {
        await client.end().catch(() => undefined);
        throw error;
      }
      return async () => {
        await client.end().catch(() => undefined); // ending the session releases its locks
      };
    },
  };
}
