/**
 * The environment of every process the platform starts below its services: postmasters, HAProxy,
 * openssl, the PostgreSQL tools, pgBackRest, nats-server. Built on purpose, never a copy of the
 * service's own: the event store URL, the NATS credentials, passwords and the secret store key
 * would otherwise sit in /proc/PID/environ of every tenant's postmaster and gateway.
 */

/** What is taken from the service's environment: the search path, the locale and the time zone. */
const INHERITED = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'TZ'] as const;

/**
 * PATH, the locale and TZ of `env`, a HOME without dotfiles (no ~/.pgpass, ~/.psqlrc or
 * ~/.pgbackrest.conf of whoever runs the platform reaches a tool), no system-wide libpq service
 * file; then `extra` (PGDATA, PGHOST, PGPORT… where a child needs them). An `undefined` in `extra`
 * removes that variable.
 */
export function childEnv(
  extra: Record<string, string | undefined> = {},
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const child: Record<string, string> = { PATH: '/usr/bin:/bin', HOME: '/tmp', PGSYSCONFDIR: '/nonexistent' };
  for (const name of INHERITED) {
    const value = env[name];
    if (value !== undefined && value !== '') child[name] = value;
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete child[name];
    else child[name] = value;
  }
  return child;
}
