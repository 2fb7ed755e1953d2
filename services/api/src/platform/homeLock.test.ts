import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HomeInUse, lockHome } from './homeLock.js';

const homes: string[] = [];
const home = () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgfleet-lock-'));
  homes.push(dir);
  return dir;
};
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

describe('the lock on a home', () => {
  it('refuses a second holder while the first lives, naming it in one sentence; free again once released', () => {
    const h = home();
    const lock = lockHome(h);
    expect(() => lockHome(h, () => 7480)).toThrow(HomeInUse);
    expect(() => lockHome(h, () => 7480)).toThrow(
      `pgfleet is already running on ${h} (pid ${process.pid}, API at http://127.0.0.1:7480); ` +
        'stop it first (Ctrl-C in its terminal) or choose another PGFLEET_HOME',
    );
    lock.release();
    expect(existsSync(join(h, 'pgfleet.lock'))).toBe(false);
    lockHome(h).release();
  });

  it('takes over the lock of a process that is gone, or of a later process that reuses its pid', () => {
    const h = home();
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    writeFileSync(join(h, 'pgfleet.lock'), JSON.stringify({ pid: Number(gone.stdout.trim()), startedAt: '1' }));
    const lock = lockHome(h);
    expect(JSON.parse(readFileSync(join(h, 'pgfleet.lock'), 'utf8')).pid).toBe(process.pid);
    lock.release();
    // Our own pid but another start time: a previous holder whose pid we now have.
    writeFileSync(join(h, 'pgfleet.lock'), JSON.stringify({ pid: process.pid, startedAt: '1' }));
    lockHome(h).release();
  });
});
