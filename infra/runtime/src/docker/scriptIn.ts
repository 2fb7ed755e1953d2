import type Docker from 'dockerode';
import { execOk, type ExecOptions } from './containers.js';

/**
 * Several steps in a container in one exec: every exec costs the engine a session of its own
 * (100-300 ms on Podman, more under load), so a node's files, directories and checks go in one
 * shell script each step instead of one exec per file. The script comes on stdin (the files'
 * contents, passwords among them, never on a command line), runs with `set -e` and umask 077.
 */

/** A file a script writes: atomically (a temporary file renamed into place), with its mode. */
export interface FileIn {
  path: string;
  content: string | Buffer;
  /** Octal; default 600. */
  mode?: string;
}

/** `s` quoted for sh. */
export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The lines writing `files` in order, each atomically, its content as base64 in the script. */
export function writeFilesLines(files: readonly FileIn[]): string[] {
  return files.flatMap(({ path, content, mode = '600' }) => {
    if (!/^[0-7]{3,4}$/.test(mode)) throw new Error(`file mode "${mode}" is not octal`);
    const tmp = shq(`${path}.tmp`);
    const b64 = Buffer.from(content).toString('base64');
    return [`printf %s ${shq(b64)} | base64 -d > ${tmp}`, `chmod ${mode} ${tmp}`, `mv -f ${tmp} ${shq(path)}`];
  });
}

/**
 * Run the script of `lines` in the running container (as postgres unless `options.user` says
 * otherwise): resolves with its stdout, rejects with its last stderr lines on a non-zero exit.
 */
export async function runScriptIn(
  docker: Docker,
  c: Docker.Container,
  lines: readonly string[],
  options: Omit<ExecOptions, 'input'> = {},
): Promise<string> {
  const script = ['set -e', 'umask 077', ...lines, ''].join('\n');
  return execOk(docker, c, ['sh', '-c', 'eval "$(cat)"'], { ...options, input: script });
}
