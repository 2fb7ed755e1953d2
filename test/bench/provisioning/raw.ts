import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureOwnedDir, freePort, INITDB_OPTIONS, ownedTempDir, runAsPostgresOk, toolchain } from '@pgfleet/postgres';

/**
 * The raw baseline: what a person would type to get the same servers by hand — initdb with the
 * same options and pg_ctl start; for business, plus pg_basebackup and start of two followers.
 */
export async function rawCluster(nodes: 1 | 3): Promise<number> {
  const tc = toolchain(15);
  const dir = await ownedTempDir('pgfleet-bench-raw-');
  const started = performance.now();
  const leader = join(dir, 'leader');
  const port = await freePort();
  const dataDirs = [leader];
  try {
    await runAsPostgresOk(tc.bin('initdb'), ['-D', leader, ...INITDB_OPTIONS]);
    await runAsPostgresOk(tc.bin('pg_ctl'), [
      '-D',
      leader,
      '-l',
      join(dir, 'leader.log'),
      '-w',
      '-o',
      `-p ${port} -k ${leader} -c listen_addresses=127.0.0.1`,
      'start',
    ]);
    for (let i = 1; i < nodes; i++) {
      const follower = join(dir, `follower${i}`);
      ensureOwnedDir(follower);
      dataDirs.push(follower);
      await runAsPostgresOk(tc.bin('pg_basebackup'), [
        '-h',
        leader,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-D',
        follower,
        '-R',
        '-X',
        'stream',
        '--checkpoint=fast',
        '-C',
        '-S',
        `slot${i}`,
      ]);
      await runAsPostgresOk(tc.bin('pg_ctl'), [
        '-D',
        follower,
        '-l',
        join(dir, `follower${i}.log`),
        '-w',
        '-o',
        `-p ${await freePort()} -k ${follower} -c listen_addresses=127.0.0.1`,
        'start',
      ]);
    }
    return performance.now() - started;
  } finally {
    for (const d of dataDirs.reverse())
      await runAsPostgresOk(tc.bin('pg_ctl'), ['-D', d, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
