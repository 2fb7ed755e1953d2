import { spawn, type SpawnOptions } from 'node:child_process';
import { childEnv } from './childEnv.js';
import { postgresOsUser } from './osUser.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The whole environment of a tool: see childEnv. */
export function toolEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return childEnv({}, env);
}

/** Run a PostgreSQL tool as the postgres OS user; resolves with its output, never throws on exit code. */
export function runAsPostgres(
  cmd: string,
  args: readonly string[],
  options: SpawnOptions & { input?: string } = {},
): Promise<ExecResult> {
  const user = postgresOsUser();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      // The caller's working directory may be out of the postgres OS user's reach (a clone under /root).
      cwd: '/',
      ...options,
      uid: user.uid,
      gid: user.gid,
      // Only what a tool needs: the control plane's own secrets (event store URL, NATS credentials)
      // must not reach a server's environment, where /proc/PID/environ would show them.
      env: childEnv(options.env),
      // Its own process group: a Ctrl-C in the terminal reaches the control plane, which stops in
      // order, not a tool halfway through its work (a killed pg_controldata would fail a step).
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    // A tool may exit without reading its input: an EPIPE on stdin is not an error of ours.
    child.stdin?.on('error', () => undefined);
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Same, but rejects with the tool's stderr when it exits non-zero. */
export async function runAsPostgresOk(
  cmd: string,
  args: readonly string[],
  options: SpawnOptions & { input?: string } = {},
): Promise<string> {
  const r = await runAsPostgres(cmd, args, options);
  if (r.code !== 0) {
    const lastLines = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${cmd.split('/').pop()} ${args.join(' ')} failed (exit ${r.code}): ${lastLines}`);
  }
  return r.stdout;
}
