import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { apiTarget, CliError } from './client.js';

export interface Downloaded {
  file: string;
  size: number;
  sha256: string;
  verified: true;
}

/**
 * Stream a backup file from the API into `file`, hashing it on the way; the file appears only
 * when its sha256 equals the one the backup service recorded (x-backup-sha256). Else it is removed.
 */
export async function downloadBackup(
  path: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Downloaded> {
  // The same token and account as every other call of the CLI.
  const { home, base, token, url } = apiTarget(env);
  if (!base || !token) {
    const message =
      `pgfleet is not running here (no ${join(home, 'platform.json')}): ` +
      'start it with "pgfleet up", or set PGFLEET_HOME';
    throw new CliError(message, 'NOT_RUNNING');
  }
  let res: Response;
  try {
    res = await fetch(url(path), { headers: { authorization: `Bearer ${token}` } });
  } catch {
    throw new CliError(`cannot reach the pgfleet API at ${base}: is "pgfleet up" running?`, 'UNAVAILABLE');
  }
  if (!res.ok || !res.body) {
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    throw new CliError(String(json.message ?? `HTTP ${res.status}`), String(json.code ?? res.status), json.details);
  }
  const expected = res.headers.get('x-backup-sha256');
  if (!expected) {
    const message = 'the API sent the backup without its sha256 (x-backup-sha256); nothing was written';
    throw new CliError(message, 'INVALID_REPLY');
  }
  const hash = createHash('sha256');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _e, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const partial = `${file}.partial`;
  try {
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    await pipeline(body, counter, createWriteStream(partial, { mode: 0o600 }));
  } catch (error) {
    await rm(partial, { force: true });
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliError(`the download was interrupted: ${reason}`, 'DOWNLOAD_FAILED');
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== expected) {
    await rm(partial, { force: true });
    const message = `the downloaded file's sha256 ${sha256} does not match the backup's ${expected}; it was not kept`;
    throw new CliError(message, 'CHECKSUM_MISMATCH');
  }
  await rename(partial, file);
  return { file, size, sha256, verified: true };
}
