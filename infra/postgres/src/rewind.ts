import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runAsPostgres } from './exec.js';
import { readNodeSettings } from './nodeConfig.js';
import { writeOwnedFile } from './ownedFile.js';
import { FOLLOWER_PASSFILE } from './standby.js';
import { toolchain } from './toolchain.js';

/** The node's own files pg_rewind would replace by the source's: its configuration and passfile. */
const isOwnFile = (name: string) => name.endsWith('.conf') || name === FOLLOWER_PASSFILE;

export interface RewindInput {
  major: number;
  /** The stopped node to rewind (an old leader). */
  dataDir: string;
  /** libpq connection string of the running source (the new leader), as a superuser. */
  source: string;
}

/**
 * Rewind a stopped old leader onto the new leader's timeline with pg_rewind (checksums are on).
 * A node that was not shut down cleanly goes through crash recovery first (pg_rewind does it
 * itself since PostgreSQL 13). pg_rewind copies the source's configuration files: the node's own
 * are put back afterwards, so it keeps its port, name and certificates; make it a standby after.
 * Throws with pg_rewind's last lines when it fails (then the node must be cloned again).
 */
export async function rewindNode(input: RewindInput): Promise<{ output: string }> {
  const { dataDir } = input;
  const keep = mkdtempSync(join(dataDir, '..', '.rewind-'));
  try {
    const own = readdirSync(dataDir).filter(isOwnFile);
    for (const f of own) copyFileSync(join(dataDir, f), join(keep, f));
    const bin = toolchain(input.major).bin('pg_rewind');
    // A node archiving to pgBackRest has a restore_command: pg_rewind then fetches from the archive
    // the WAL the old leader no longer holds in pg_wal (--restore-target-wal, PostgreSQL 13+).
    const archived = readNodeSettings(dataDir).restore_command ? ['--restore-target-wal'] : [];
    const args = ['--target-pgdata', dataDir, '--source-server', input.source, '--progress', ...archived];
    const r = await runAsPostgres(bin, args);
    // Put the node's own files back whatever happened (a failed rewind may have copied some).
    for (const f of own) writeOwnedFile(join(dataDir, f), readFileSync(join(keep, f), 'utf8'), 0o600);
    if (r.code !== 0) {
      const lines = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
      throw new Error(`pg_rewind failed (exit ${r.code}): ${lines}`);
    }
    return { output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(keep, { recursive: true, force: true });
  }
}
