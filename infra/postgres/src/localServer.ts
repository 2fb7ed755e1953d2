import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAsPostgres, runAsPostgresOk } from './exec.js';
import { ensureSocketDir } from './initNode.js';
import { ensureOwnedDir, postgresOsUser } from './osUser.js';
import { toolchain } from './toolchain.js';
import { waitForPort } from './net.js';

export interface LocalServerOptions {
  dataDir: string;
  port: number;
  major?: number;
  /** Superuser password (scram-sha-256 on TCP). Without it, TCP from 127.0.0.1 is trusted (tests). */
  password?: string;
  /** Extra postgresql.conf settings. */
  settings?: Record<string, string | number>;
}

export interface LocalServer {
  host: string;
  port: number;
  dataDir: string;
  /** Directory of its unix socket: beside the data directory, or a short path under /tmp when that one is too long. */
  socketDir: string;
  /** `postgres://postgres[:password]@127.0.0.1:port/db` */
  url(database?: string): string;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
}

/**
 * A plain PostgreSQL server on 127.0.0.1 for the control plane (event store) or for tests:
 * initdb on first use, then `pg_ctl start` (detached; outlives this process). Never starts a
 * second server on a data directory that already has a live one: it reuses it.
 */
export async function startLocalServer(opts: LocalServerOptions): Promise<LocalServer> {
  const tc = toolchain(opts.major ?? 15);
  const { dataDir, port } = opts;
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    ensureOwnedDir(dataDir);
    const cluster = ['-U', 'postgres', '-E', 'UTF8', '--locale=C', '--data-checksums'];
    const args = ['-D', dataDir, ...cluster, '--auth-local=trust'];
    let pwfile: string | undefined;
    if (opts.password) {
      pwfile = join(dataDir, '..', `.pwfile-${port}`);
      writeFileSync(pwfile, `${opts.password}\n`, { mode: 0o600 });
      const user = postgresOsUser();
      const { chownSync } = await import('node:fs');
      chownSync(pwfile, user.uid, user.gid);
      args.push('--auth-host=scram-sha-256', `--pwfile=${pwfile}`);
    } else {
      args.push('--auth-host=trust');
    }
    try {
      await runAsPostgresOk(tc.bin('initdb'), args);
    } finally {
      if (pwfile) (await import('node:fs')).rmSync(pwfile, { force: true });
    }
  }
  const socketDir = ensureSocketDir(dataDir);
  const settings: Record<string, string | number> = {
    listen_addresses: "'127.0.0.1'",
    port,
    unix_socket_directories: `'${socketDir}'`,
    logging_collector: 'off',
    ...opts.settings,
  };
  const confLines = Object.entries(settings).map(([k, v]) => `${k} = ${v}`);
  writeFileSync(join(dataDir, 'postgresql.auto.conf'), `# written by pgfleet\n${confLines.join('\n')}\n`);
  const user = postgresOsUser();
  (await import('node:fs')).chownSync(join(dataDir, 'postgresql.auto.conf'), user.uid, user.gid);

  const status = await runAsPostgres(tc.bin('pg_ctl'), ['-D', dataDir, 'status']);
  if (status.code !== 0) {
    const log = join(dataDir, 'server.log');
    await runAsPostgresOk(tc.bin('pg_ctl'), ['-D', dataDir, '-l', log, '-w', '-t', '60', 'start']);
  }
  await waitForPort(port);
  const auth = opts.password ? `postgres:${encodeURIComponent(opts.password)}` : 'postgres';
  return {
    host: '127.0.0.1',
    port,
    dataDir,
    socketDir,
    url: (database = 'postgres') => `postgres://${auth}@127.0.0.1:${port}/${database}`,
    stop: async (mode = 'fast') => {
      await runAsPostgres(tc.bin('pg_ctl'), ['-D', dataDir, '-m', mode, '-w', 'stop']);
    },
  };
}

/** The port a data directory's running server listens on, read from postmaster.pid. */
export function runningPort(dataDir: string): number | undefined {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const port = Number(lines[3]);
  return Number.isFinite(port) && port > 0 ? port : undefined;
}
