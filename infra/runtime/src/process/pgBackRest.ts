import { existsSync } from 'node:fs';
import {
  ensureOwnedDir,
  pgBackRestArgs,
  pgBackRestBin,
  pgBackRestError,
  renderPgBackRestConfig,
  runAsPostgres,
  writeOwnedFile,
  type PgBackRestPaths,
} from '@pgfleet/postgres';

const prepared = new Set<string>();

/**
 * Create pgBackRest's directories (owned by the postgres OS user, which runs archive-push inside
 * the servers) and write its configuration. Idempotent; cheap after the first call of a process.
 */
export function preparePitr(paths: PgBackRestPaths): void {
  if (prepared.has(paths.config) && existsSync(paths.config) && existsSync(paths.repo)) return;
  ensureOwnedDir(paths.base, 0o711);
  for (const dir of [paths.includeDir, paths.repo, paths.lock, paths.log, paths.spool]) ensureOwnedDir(dir);
  writeOwnedFile(paths.config, renderPgBackRestConfig(paths), 0o600);
  prepared.add(paths.config);
}

/** Run one pgBackRest command of a stanza as the postgres OS user; rejects with pgBackRest's reason. */
export async function pgBackRest(
  paths: PgBackRestPaths,
  stanza: string,
  command: string,
  args: readonly string[] = [],
): Promise<string> {
  preparePitr(paths);
  const r = await runAsPostgres(pgBackRestBin(), [...pgBackRestArgs(paths, stanza, command), ...args, command]);
  if (r.code !== 0) {
    const exit = r.code === -1 ? 'killed by a signal' : `exit ${r.code}`;
    const reason = `${exit}: ${pgBackRestError(`${r.stderr}\n${r.stdout}`)}`;
    throw new Error(`pgbackrest ${command} of stanza ${stanza} failed: ${reason}`);
  }
  return r.stdout;
}
