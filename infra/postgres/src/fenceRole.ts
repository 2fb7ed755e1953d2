import { quoteIdent, withClient, type SqlTarget } from './sql.js';

/**
 * Fence a role's writes while its data is replaced under it (a restore in place): it may not log
 * in (`ALTER ROLE … NOLOGIN`) and its open sessions are ended (their transactions roll back).
 * Resolves once none is left. NOLOGIN is a catalog change: it replicates to the followers and
 * survives a restart or a failover until `unfenceRole`. Both directions are idempotent.
 */
export async function fenceRole(
  target: SqlTarget,
  role: string,
  timeoutMs = 30_000,
): Promise<{ sessionsEnded: number }> {
  return withClient(target, async (q) => {
    await q.query(`ALTER ROLE ${quoteIdent(role)} NOLOGIN`);
    const sessions = 'SELECT pid FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()';
    const ended = await q.query(`SELECT pg_terminate_backend(pid) FROM (${sessions}) s`, [role]);
    const deadline = Date.now() + timeoutMs;
    while ((await q.query(sessions, [role])).rowCount) {
      if (Date.now() > deadline) throw new Error(`sessions of role ${role} did not end`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { sessionsEnded: ended.rowCount ?? 0 };
  });
}

/** Let the role log in again. */
export async function unfenceRole(target: SqlTarget, role: string): Promise<void> {
  await withClient(target, async (q) => {
    await q.query(`ALTER ROLE ${quoteIdent(role)} LOGIN`);
  });
}
