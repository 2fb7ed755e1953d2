import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withFileLock } from './fileLock.js';

const dir = mkdtempSync(join(tmpdir(), 'pgfleet-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('withFileLock', () => {
  it('runs one holder at a time and removes the file after', async () => {
    const file = join(dir, 'one.lock');
    const order: string[] = [];
    const hold = (name: string) =>
      withFileLock(file, async () => {
        order.push(`${name} in`);
        await new Promise((r) => setTimeout(r, 50));
        order.push(`${name} out`);
      });
    await Promise.all([hold('a'), hold('b')]);
    expect(order).toEqual(['a in', 'a out', 'b in', 'b out']);
  });

  it('takes over a lock whose holder is gone, and an old one without a pid', async () => {
    const dead = join(dir, 'dead.lock');
    writeFileSync(dead, '999999999');
    expect(await withFileLock(dead, async () => 'taken', 1000)).toBe('taken');

    const empty = join(dir, 'empty.lock');
    writeFileSync(empty, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(empty, old, old);
    expect(await withFileLock(empty, async () => 'taken', 1000)).toBe('taken');
  });

  it('waits for a fresh lock without a pid (its holder may be writing it), then gives up', async () => {
    const fresh = join(dir, 'fresh.lock');
    writeFileSync(fresh, '');
    await expect(withFileLock(fresh, async () => 'taken', 200)).rejects.toThrow(/fresh.lock held by/);
  });
});
