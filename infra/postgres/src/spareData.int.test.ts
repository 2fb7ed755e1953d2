import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readControlData } from './controlData.js';
import { ensureOwnedDir, ownedTempDir, postgresOsUser } from './osUser.js';
import { keepSpares, makeSpare, readySpares, sparesDir, stopMakingSpares, takeSpare } from './spareData.js';

const TIMEOUT = 120_000;
let root: string;
const entries = () => readdirSync(sparesDir(root, 15)).sort();

async function eventually(what: string, ok: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 30_000; !ok(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

beforeAll(async () => {
  root = await ownedTempDir('pgfleet-spares-');
});

afterAll(() => {
  stopMakingSpares();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('spare data directories', () => {
  it(
    'makes a spare: a complete initdb with checksums, owned by the postgres OS user, 0700, named ready- once done',
    async () => {
      const spare = await makeSpare(root, 15);
      expect(readySpares(root, 15)).toEqual([spare]);
      expect(entries()).toEqual([spare.split('/').pop()]);
      expect(readFileSync(join(spare, 'PG_VERSION'), 'utf8').trim()).toBe('15');
      expect(statSync(spare).mode & 0o777).toBe(0o700);
      expect(statSync(spare).uid).toBe(postgresOsUser().uid);
      const control = await readControlData(15, spare);
      expect(control['Data page checksum version']).toBe('1');
      expect(control['Database cluster state']).toBe('shut down');
    },
    TIMEOUT,
  );

  it(
    'an initdb killed halfway never becomes ready; making- dirs of gone makers are removed, a live one kept',
    async () => {
      const [first] = readySpares(root, 15);
      const making = makeSpare(root, 15);
      making.catch(() => undefined);
      const half = () => entries().find((e) => e.startsWith('making-'));
      await eventually('initdb to have started writing', () => {
        const dir = half();
        return dir !== undefined && existsSync(join(sparesDir(root, 15), dir, 'base'));
      });
      stopMakingSpares();
      await expect(making).rejects.toThrow(/initdb of spare .* failed \(SIGKILL\)/);
      expect(readySpares(root, 15)).toHaveLength(1); // only the spare of the first test
      expect(half()).toBeUndefined();

      // What a maker killed with its process leaves: a partial directory named by its (gone) pid.
      const gone = spawnSync('true').pid;
      const abandoned = join(sparesDir(root, 15), `making-${gone}-partial`);
      ensureOwnedDir(join(abandoned, 'base'));
      writeFileSync(join(abandoned, 'PG_VERSION'), '15\n');
      const alive = join(sparesDir(root, 15), 'making-1-elsewhere'); // pid 1 runs: another maker's
      ensureOwnedDir(alive);
      const next = await makeSpare(root, 15);
      expect(existsSync(abandoned)).toBe(false);
      expect(existsSync(alive)).toBe(true);
      expect(readySpares(root, 15).sort()).toEqual([first, next].sort());
      rmSync(alive, { recursive: true });
      rmSync(next, { recursive: true });
    },
    TIMEOUT,
  );

  it('two takers racing for one spare: exactly one gets it, the other is told there was none', async () => {
    const [spare] = readySpares(root, 15);
    const targets = ['node-a', 'node-b'].map((n) => join(root, n));
    for (const t of targets) ensureOwnedDir(t);
    const taken = await Promise.all(targets.map((t) => takeSpare(root, 15, t)));
    expect(taken.filter(Boolean)).toHaveLength(1);
    const winner = targets[taken.indexOf(true)]!;
    const loser = targets[taken.indexOf(false)]!;
    expect(readFileSync(join(winner, 'PG_VERSION'), 'utf8').trim()).toBe('15');
    expect(readdirSync(loser)).toEqual([]);
    expect(existsSync(spare!)).toBe(false);
    expect(readySpares(root, 15)).toEqual([]);
    expect(await takeSpare(root, 15, loser)).toBe(false);
  });

  it(
    'the keeper makes one spare at a time up to one ready; a call while it works joins it',
    async () => {
      const first = keepSpares(root, 15);
      expect(keepSpares(root, 15)).toBe(first);
      await first;
      expect(readySpares(root, 15)).toHaveLength(1);
      await keepSpares(root, 15); // one is ready: nothing to make
      expect(entries().filter((e) => e.startsWith('making-'))).toEqual([]);
      expect(readySpares(root, 15)).toHaveLength(1);
    },
    TIMEOUT,
  );
});
