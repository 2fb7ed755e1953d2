import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type Docker from 'dockerode';
import type { NodeInfo, ToolLogin, ToolProcess } from '../port.js';
import { CLIENT_TOOLS, failedTool } from '../process/runTool.js';
import { execIn, IN_CONTAINER, startExec } from './containers.js';
import { writeFileIn } from './nodeFiles.js';

export interface DockerToolOptions {
  stdin?: Readable;
  database?: string;
  login?: ToolLogin;
  output?: number;
}

/**
 * A client tool of the node's major run inside its container as the postgres OS user, against the
 * node's socket (as the superuser, trusted there, or as `login` through a passfile written for it
 * and removed after). Its stdout streams back through the exec session; it ends only on exit code
 * 0 and errors otherwise. `kill` SIGKILLs the tool inside the container (its pid is kept in a file).
 */
export function dockerTool(
  docker: Docker,
  container: () => Promise<{ c: Docker.Container; info: NodeInfo }>,
  tool: string,
  args: readonly string[],
  options: DockerToolOptions = {},
): ToolProcess {
  if (!CLIENT_TOOLS.has(tool)) return failedTool(new Error(`${tool} is not a PostgreSQL client tool a node runs`));
  const stdout = new PassThrough();
  stdout.on('error', () => undefined); // delivered to whoever reads it, and through `done`
  const id = randomBytes(8).toString('hex');
  const pidFile = `${IN_CONTAINER.socketDir}/.tool-${id}.pid`;
  const passfile = `${IN_CONTAINER.socketDir}/.tool-${id}.pgpass`;
  let target: Docker.Container | undefined;
  let abort: () => void = () => undefined;
  let killed = false;

  const run = async (): Promise<void> => {
    const { c, info } = await container();
    target = c;
    const env: Record<string, string> = {};
    const user = options.login?.user ?? 'postgres';
    if (options.login) {
      const { password } = options.login;
      const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
      await writeFileIn(docker, c, passfile, `*:*:*:${esc(user)}:${esc(password)}\n`);
      env.PGPASSFILE = passfile;
    }
    const database = options.database ? ['--dbname', options.database] : [];
    const connection = ['-h', IN_CONTAINER.socketDir, '-p', String(IN_CONTAINER.port), '-U', user, '--no-password'];
    const bin = `/usr/lib/postgresql/${info.major}/bin/${tool}`;
    // The shell records its pid, then becomes the tool: `kill` finds it there.
    const script = `echo $$ > ${pidFile}; exec "$@"`;
    const sink =
      options.output !== undefined ? createWriteStream('', { fd: options.output, autoClose: false }) : stdout;
    const onStdout = new PassThrough();
    onStdout.pipe(sink, { end: options.output !== undefined });
    try {
      const session = await startExec(docker, c, ['sh', '-c', script, 'sh', bin, ...args, ...database, ...connection], {
        env,
        onStdout,
        ...(options.stdin ? { stdin: options.stdin } : {}),
      });
      abort = session.abort;
      if (killed) session.abort();
      const r = await session.result;
      onStdout.end();
      if (options.output !== undefined) await finished(sink);
      if (r.code !== 0 || killed) {
        const lastLines = r.stderr.trim().split('\n').slice(-3).join(' | ');
        throw new Error(`${tool} failed: ${lastLines || (killed ? 'killed' : `exit ${r.code}`)}`);
      }
    } finally {
      await execIn(docker, c, ['rm', '-f', pidFile, passfile]).catch(() => undefined);
    }
  };

  const done = run().catch((error: Error) => {
    throw error.message.startsWith(`${tool} failed`) ? error : new Error(`${tool} failed: ${error.message}`);
  });
  done.then(
    () => stdout.end(),
    (error: Error) => stdout.destroy(error),
  );
  const kill = () => {
    killed = true;
    if (target) {
      const script = `test -f ${pidFile} && kill -9 "$(cat ${pidFile})"`;
      void execIn(docker, target, ['sh', '-c', script]).finally(abort);
    }
  };
  stdout.on('close', () => {
    if (!stdout.writableFinished) kill();
  });
  return { stdout, done, kill };
}
