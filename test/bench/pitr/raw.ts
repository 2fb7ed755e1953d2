/** The raw baseline of the pitr benches: pgBackRest's own restore, start, replay until promoted. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  dataRoot,
  ensureOwnedDir,
  freePort,
  ownedTempDir,
  pgBackRestArgs,
  pgBackRestBin,
  pgBackRestPaths,
  pgBackRestTime,
  restoreCommand,
  runAsPostgres,
  runAsPostgresOk,
  toolchain,
  withClient,
  writeOwnedFile,
} from '@pgfleet/postgres';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Until the server on socket directory `host` is out of recovery. */
async function untilPromoted(host: string, port: number): Promise<void> {
  for (;;) {
    const rec = await withClient({ host, port, user: 'postgres', database: 'postgres', connectTimeoutMs: 2000 }, (q) =>
      q.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'),
    ).then(
      (r) => r.rows[0]!.r,
      () => true,
    );
    if (!rec) return;
    await sleep(50);
  }
}

/** Raw: pgbackrest restore into an empty directory, start on its own port, until promoted; its wall time. */
export async function rawRestore(home: string, stanza: string, target: string): Promise<number> {
  const paths = pgBackRestPaths(dataRoot(home));
  const dir = await ownedTempDir('pgfleet-bench-raw-');
  const data = join(dir, 'data');
  ensureOwnedDir(data);
  const port = await freePort();
  const pgCtl = toolchain(15).bin('pg_ctl');
  try {
    const started = performance.now();
    await runAsPostgresOk(pgBackRestBin(), [
      ...pgBackRestArgs(paths, stanza),
      `--pg1-path=${data}`,
      '--type=time',
      `--target=${pgBackRestTime(target).target}`,
      '--target-action=promote',
      '--target-timeline=latest',
      `--recovery-option=restore_command=${restoreCommand(paths, stanza, data)}`,
      'restore',
    ]);
    // pgfleet's backups carry no postgresql.conf / pg_hba.conf (each node writes its own): the minimum.
    writeOwnedFile(join(data, 'postgresql.conf'), '', 0o600);
    writeOwnedFile(join(data, 'pg_hba.conf'), 'local all all trust\n', 0o600);
    const opts = `-p ${port} -k ${dir} -c archive_mode=off -c ssl=off`;
    await runAsPostgresOk(pgCtl, ['-D', data, '-o', opts, '-l', join(dir, 'pg_ctl.log'), '-w', '-t', '3600', 'start']);
    await untilPromoted(dir, port);
    return performance.now() - started;
  } finally {
    await runAsPostgres(pgCtl, ['-D', data, '-m', 'immediate', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  }
}
