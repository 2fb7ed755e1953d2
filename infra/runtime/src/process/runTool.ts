import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { childEnv, postgresOsUser, writePassfile } from '@pgfleet/postgres';
import type { NodeEndpoint, ToolLogin, ToolProcess } from '../port.js';

/** PostgreSQL client tools a node runs for its callers: each takes `-h -p -U --no-password`. */
export const CLIENT_TOOLS: ReadonlySet<string> = new Set([
  'psql',
  'pg_dump',
  'pg_dumpall',
  'pg_restore',
  'pg_amcheck',
  'vacuumdb',
  'reindexdb',
  'clusterdb',
  'createdb',
  'dropdb',
  'createuser',
  'dropuser',
  'vacuumlo',
  'pg_basebackup',
  'pg_receivewal',
  'pg_recvlogical',
]);

const STDERR_TAIL = 4096;

/** A tool that could not run: its stdout errors and `done` rejects with `error`. */
export function failedTool(error: Error): ToolProcess {
  const stdout = new PassThrough();
  stdout.on('error', () => undefined); // delivered to whoever reads it, and through `done`
  process.nextTick(() => stdout.destroy(error));
  const done = Promise.reject(error);
  done.catch(() => undefined); // a caller that only reads stdout must not get an unhandled rejection
  return { stdout, done, kill: () => undefined };
}

export interface ToolTarget {
  /** Absolute path of the tool's binary. */
  bin: string;
  /** The server it connects to, as the superuser over the node's socket. */
  endpoint: NodeEndpoint;
  /** A directory private to the postgres OS user (the node's socket directory): where a login's passfile is written. */
  privateDir: string;
}

export interface ToolOptions {
  stdin?: Readable;
  database?: string;
  login?: ToolLogin;
  /** A file descriptor the tool's stdout goes to directly (then `stdout` ends empty at its exit). */
  output?: number;
}

/**
 * How the tool logs in: the superuser (trusted on the socket), or `login` with its password in a
 * passfile of its own (0600, the postgres OS user's) that `remove` deletes once the tool exited.
 */
function loginOf(target: ToolTarget, login: ToolLogin | undefined) {
  const { port, user } = target.endpoint;
  if (!login) return { user, env: {}, remove: () => undefined };
  const passfile = join(target.privateDir, `.pgfleet-tool-${randomBytes(8).toString('hex')}.pgpass`);
  // Any host: libpq matches a socket directory other than its default only by its literal path.
  writePassfile(passfile, [{ host: '*', port, user: login.user, password: login.password }]);
  return { user: login.user, env: { PGPASSFILE: passfile }, remove: () => rmSync(passfile, { force: true }) };
}

/**
 * Run a client tool as the postgres OS user against `target`, the connection options appended
 * last (so they win over the caller's). `stdin` is piped into it; its stdout is a stream that
 * ends only on exit code 0 and errors otherwise, so a reader never takes a truncated output for a
 * whole one (with `output`, the tool writes into that descriptor and the stream only ends or
 * errors). Closing stdout early kills the tool.
 */
export function spawnTool(target: ToolTarget, args: readonly string[], options: ToolOptions = {}): ToolProcess {
  const tool = basename(target.bin);
  const { host, port } = target.endpoint;
  const os = postgresOsUser();
  const login = loginOf(target, options.login);
  const database = options.database ? ['--dbname', options.database] : [];
  const connection = ['-h', host, '-p', String(port), '-U', login.user, '--no-password'];
  const child = spawn(target.bin, [...args, ...database, ...connection], {
    uid: os.uid,
    gid: os.gid,
    env: childEnv(login.env),
    detached: true, // its own process group: a terminal's Ctrl-C reaches the control plane, not the tool
    cwd: '/', // the control plane's working directory may be out of the postgres OS user's reach
    stdio: [options.stdin ? 'pipe' : 'ignore', options.output ?? 'pipe', 'pipe'],
  });
  const stdout = new PassThrough();
  stdout.on('error', () => undefined); // delivered to whoever reads it, and through `done`
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-STDERR_TAIL)));
  child.stdout?.pipe(stdout, { end: false });

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  exited.then(login.remove, login.remove);
  // A tool that exits without reading all its input fails the feed (EPIPE): the input was not used whole.
  const fed = options.stdin
    ? pipeline(options.stdin, child.stdin!).then(
        () => undefined,
        (e: unknown) => e as Error,
      )
    : Promise.resolve(undefined);
  const done = Promise.all([exited, fed]).then(
    ([{ code, signal }, feedError]) => {
      if (code === 0 && !feedError) return;
      const lastLines = stderr.trim().split('\n').slice(-3).join(' | ');
      const why = lastLines || feedError?.message || (signal ? `killed by ${signal}` : `exit ${code}`);
      throw new Error(`${tool} failed: ${why}`);
    },
    (error: Error) => {
      throw new Error(`${tool} failed: ${error.message}`);
    },
  );
  done.then(
    () => stdout.end(),
    (error: Error) => stdout.destroy(error),
  );
  stdout.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { stdout, done, kill: () => child.kill('SIGKILL') };
}
