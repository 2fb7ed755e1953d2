import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { postgresOsUser, type NodeConn } from '@pgfleet/postgres';

export interface ToolSource {
  /** The tool's stdout; it errors (instead of ending) when the tool exits non-zero. */
  stream: Readable;
  /** SIGKILL the tool. */
  kill(): void;
  pid: number | undefined;
}

const STDERR_TAIL = 4096;

/**
 * Run a PostgreSQL tool (pg_dump) as the postgres OS user and expose its stdout as a stream
 * that ends only on exit code 0: a dump that fails half-way surfaces as an error, so a store
 * never completes a truncated file.
 */
export function spawnToolSource(bin: string, args: readonly string[], conn: NodeConn): ToolSource {
  const user = postgresOsUser();
  const child = spawn(bin, [...args, '-h', conn.host, '-p', String(conn.port), '-U', conn.user ?? 'postgres', '--no-password'], {
    uid: user.uid,
    gid: user.gid,
    env: { ...process.env, HOME: '/tmp', PGSYSCONFDIR: '/nonexistent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = new PassThrough();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-STDERR_TAIL)));
  child.stdout!.pipe(out, { end: false });
  child.on('error', (e) => out.destroy(e));
  child.on('close', (code, signal) => {
    if (code === 0) out.end();
    else {
      const tool = bin.split('/').pop();
      const why = stderr.trim().split('\n').slice(-3).join(' | ') || (signal ? `killed by ${signal}` : `exit ${code}`);
      out.destroy(new Error(`${tool} failed: ${why}`));
    }
  });
  out.on('close', () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return { stream: out, kill: () => child.kill('SIGKILL'), pid: child.pid };
}
