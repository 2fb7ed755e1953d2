import { fenceRole, generatePassword, setRoleLogin, unfenceRole } from '@pgfleet/postgres';
import type { NodeRuntime, ToolLogin } from '@pgfleet/runtime';
import { APP_ROLE } from '../workers/cluster.js';

/**
 * The application's writes are fenced while a restore runs in place: its role may not log in
 * (`ALTER ROLE app NOLOGIN`) and its open sessions are ended (their transactions roll back), so
 * nothing the application writes during the restore is silently overwritten by it, and nothing
 * reads a table the restore holds. Only the `app` role can reach the `app` database (PUBLIC has
 * no CONNECT on it and the role cannot create roles), so this fences every application write.
 * pg_restore runs as that same role (the database's owner, never the superuser): for the restore
 * only, `admitRestore` lets the role log in with a one-off password the application does not know,
 * and `refence` fences it again with its own password back.
 *
 * Every step is idempotent and needs no memory of the state before: the platform's `app` role
 * always logs in with its own password outside a restore. These are catalog changes, so they
 * replicate to the followers and survive a restart or a failover until `unfence` (run on the
 * current leader), which also puts the role's own password back.
 */
export async function fenceApp(
  runtime: NodeRuntime,
  runtimeId: string,
  role = APP_ROLE,
  timeoutMs = 30_000,
): Promise<{ sessionsEnded: number }> {
  return fenceRole(await runtime.endpoint(runtimeId, 'postgres'), role, timeoutMs);
}

/** Let the fenced role log in for the restore only: with a one-off password, returned as pg_restore's login. */
export async function admitRestore(runtime: NodeRuntime, runtimeId: string, role = APP_ROLE): Promise<ToolLogin> {
  const password = generatePassword();
  await setRoleLogin(await runtime.endpoint(runtimeId, 'postgres'), role, { login: true, password });
  return { user: role, password };
}

/** After the restore: the role is fenced again, with its own `password` back. */
export async function refence(runtime: NodeRuntime, runtimeId: string, password: string, role = APP_ROLE) {
  await setRoleLogin(await runtime.endpoint(runtimeId, 'postgres'), role, { login: false, password });
}

/** Let the application log in again (with its own `password` back, when given). */
export async function unfenceApp(
  runtime: NodeRuntime,
  runtimeId: string,
  password?: string,
  role = APP_ROLE,
): Promise<void> {
  await unfenceRole(await runtime.endpoint(runtimeId, 'postgres'), role, password);
}
