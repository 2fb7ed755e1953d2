import { scramVerifier } from './scram.js';
import { quoteIdent, quoteLiteral, withClient, type SqlTarget } from './sql.js';

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

/** Let the role log in again; with `password`, with that password (its verifier: the server never sees it). */
export async function unfenceRole(target: SqlTarget, role: string, password?: string): Promise<void> {
  await setRoleLogin(target, role, { login: true, ...(password === undefined ? {} : { password }) });
}

/**
 * `ALTER ROLE … [NO]LOGIN [PASSWORD verifier]`. A fenced role's work that must run as the role itself
 * (a restore as the database's owner) lets it log in with a one-off password only that work knows,
 * then fences it again with its own password back: the application, which knows only its own, stays out.
 */
export async function setRoleLogin(
  target: SqlTarget,
  role: string,
  options: { login: boolean; password?: string },
): Promise<void> {
  const login = options.login ? 'LOGIN' : 'NOLOGIN';
  const password = options.password === undefined ? '' : ` PASSWORD ${quoteLiteral(scramVerifier(options.password))}`;
  await withClient(target, async (q) => {
    await q.query(`ALTER ROLE ${quoteIdent(role)} ${login}${password}`);
  });
}
