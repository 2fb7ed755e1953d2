import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ensureOwnedDir, freePort, runAsPostgres, toolchain } from '@pgfleet/postgres';

/** One run of pg_upgrade between two data directories. */
export interface PgUpgradeRun {
  fromMajor: number;
  toMajor: number;
  oldDataDir: string;
  newDataDir: string;
  /** The old server's port (a running old server is checked live; pg_upgrade reads its port itself). */
  oldPort: number;
  mode: 'check' | 'link';
}

export type PgUpgradeResult = { ok: true; output: string } | { ok: false; reasons: string[] };

/** Lines of a file pg_upgrade names (a `*.txt` list of problems, a log), at most `max`, trimmed; none when missing. */
function fileLines(path: string, max: number): string[] {
  if (!existsSync(path)) return [];
  try {
    const lines = readFileSync(path, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => l.trim());
    return lines.filter((l) => l.length > 0).slice(-max);
  } catch {
    return [];
  }
}

/**
 * pg_upgrade's reasons from its output: the paragraph under each check that says `fatal` (or the
 * last lines before "Failure, exiting"), then what the files it names say (`tables_using_reg.txt`:
 * the columns at fault; a log: its error lines, else its last lines). Read before its output directory is removed,
 * with `linesOf` (the docker driver reads them inside the node's container).
 */
export function pgUpgradeReasons(
  output: string,
  linesOf: (path: string, max: number) => string[] = fileLines,
): string[] {
  const lines = output.split('\n');
  const reasons: string[] = [];
  const fatal = lines.findIndex((l) => /\bfatal\s*$/.test(l));
  const end = lines.findIndex((l) => l.startsWith('Failure, exiting'));
  const from = fatal >= 0 ? fatal : Math.max(0, (end >= 0 ? end : lines.length) - 6);
  const body = lines.slice(from, end >= 0 ? end : lines.length);
  const text = body
    .filter((l) => !/^\s+\//.test(l))
    .map((l) => l.trim())
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (text) reasons.push(text);
  const named = new Set(output.match(/\/[^\s"]+\.(txt|log)/g) ?? []);
  for (const file of named) {
    const max = file.endsWith('.txt') ? 20 : 5;
    // A log's errors (pg_restore's "error: ... does not exist") say more than its last lines (the failed SQL).
    const all = linesOf(file, 1000);
    const errors = file.endsWith('.log') ? all.filter((l) => /\berror:|\bFATAL:/i.test(l)).slice(-3) : [];
    const content = errors.length > 0 ? errors : all.slice(-max);
    if (content.length > 0) reasons.push(`${basename(file)}: ${content.join('; ')}`);
  }
  return reasons.length > 0 ? reasons : ['pg_upgrade failed without saying why'];
}

/**
 * Run pg_upgrade as the postgres OS user, in a scratch working directory of its own (it writes
 * there and puts its servers' sockets there: a short path, under the socket length limit). Never
 * throws for pg_upgrade's own failure: the result carries its reasons.
 */
export async function runPgUpgrade(run: PgUpgradeRun): Promise<PgUpgradeResult> {
  // One per new data directory, short (socket paths are limited to ~100 bytes), emptied first: what
  // a run killed with its caller left there is gone at the next one.
  const hash = createHash('sha256').update(run.newDataDir).digest('hex').slice(0, 12);
  const scratch = join(tmpdir(), `pgfleet-upgrade-${hash}`);
  rmSync(scratch, { recursive: true, force: true });
  ensureOwnedDir(scratch);
  try {
    const args = [
      ...['-b', toolchain(run.fromMajor).binDir, '-B', toolchain(run.toMajor).binDir],
      ...['-d', run.oldDataDir, '-D', run.newDataDir],
      ...['-p', String(run.oldPort), '-P', String(await freePort())],
      ...['-U', 'postgres', '-s', scratch],
      run.mode === 'check' ? '--check' : '--link',
    ];
    const r = await runAsPostgres(toolchain(run.toMajor).bin('pg_upgrade'), args, { cwd: scratch });
    const output = `${r.stdout}\n${r.stderr}`;
    return r.code === 0 ? { ok: true, output } : { ok: false, reasons: pgUpgradeReasons(output) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
