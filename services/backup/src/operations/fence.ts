import { fenceRole, unfenceRole } from '@pgfleet/postgres';
import type { NodeRuntime } from '@pgfleet/runtime';
import { APP_ROLE } from '../workers/cluster.js';

/**
 * The application's writes are fenced while a restore runs in place: its role may not log in
 * (`ALTER ROLE app NOLOGIN`) and its open sessions are ended (their transactions roll back), so
 * nothing the application writes during the restore is silently overwritten by it, and nothing
 * reads a table the restore holds. Only the `app` role can reach the `app` database (PUBLIC has
 * no CONNECT on it and the role cannot create roles), so this fences every application write.
 * The superuser is not fenced: pg_restore runs as it (through the runtime) with `--role=app`.
 *
 * Both directions are idempotent and need no memory of the state before: the platform's `app`
 * role always logs in outside a restore. NOLOGIN is a catalog change, so it replicates to the
 * followers and survives a restart or a failover until `unfence` (run on the current leader).
 */
export async function fenceApp(
  runtime: NodeRuntime,
  runtimeId: string,
  role = APP_ROLE,
  timeoutMs = 30_000,
): Promise<{ sessionsEnded: number }> {
  return fenceRole(await runtime.endpoint(runtimeId, 'postgres'), role, timeoutMs);
}

/** Let the application log in again. */
export async function unfenceApp(runtime: NodeRuntime, runtimeId: string, role = APP_ROLE): Promise<void> {
  await unfenceRole(await runtime.endpoint(runtimeId, 'postgres'), role);
}
