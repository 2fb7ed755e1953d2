import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileBackupStore } from './backupStore.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'pgfleet-bstore-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('file backup store', () => {
  it('takes a file written through its descriptor, with its size and sha256, reads it back, deletes it', async () => {
    const store = createFileBackupStore(root);
    const partial = await store.begin('c1', 'b1');
    writeSync(partial.fd, 'hello ');
    expect(await partial.bytes()).toBe(6);
    expect(await store.exists('c1', 'b1')).toBe(false);
    writeSync(partial.fd, 'world');
    const stored = await partial.finish();
    expect(stored).toEqual({ size: 11, sha256: createHash('sha256').update('hello world').digest('hex') });
    await partial.abort(); // after finish: the file stays
    expect(await store.exists('c1', 'b1')).toBe(true);
    expect(await store.list('c1')).toEqual(['b1']);
    expect(await text(store.open('c1', 'b1'))).toBe('hello world');
    await store.delete('c1', 'b1');
    await store.delete('c1', 'b1');
    expect(await store.exists('c1', 'b1')).toBe(false);
  });

  it("takes a child process's standard output straight into the file", async () => {
    const store = createFileBackupStore(root);
    const partial = await store.begin('c2', 'b1');
    const child = spawn('sh', ['-c', 'printf "dump bytes"'], { stdio: ['ignore', partial.fd, 'inherit'] });
    await once(child, 'close');
    expect(await partial.finish()).toMatchObject({ size: 10 });
    expect(await text(store.open('c2', 'b1'))).toBe('dump bytes');
  });

  it('never shows an aborted write: no file, no partial left behind; a new begin starts empty', async () => {
    const store = createFileBackupStore(root);
    const first = await store.begin('c3', 'b1');
    writeSync(first.fd, 'half of a dump');
    await first.abort();
    await first.abort();
    expect(await store.exists('c3', 'b1')).toBe(false);
    expect(await store.list('c3')).toEqual([]);
    expect(readdirSync(join(root, 'c3'))).toEqual([]);
    await expect(first.finish()).rejects.toThrow(/aborted/);

    // Two attempts at once write files of their own; delete removes both (as a crash leaves them).
    const [one, two] = [await store.begin('c3', 'b1'), await store.begin('c3', 'b1')];
    writeSync(one.fd, 'one');
    expect(await two.bytes()).toBe(0);
    expect(readdirSync(join(root, 'c3'))).toHaveLength(2);
    await store.delete('c3', 'b1');
    expect(readdirSync(join(root, 'c3'))).toEqual([]);
    await Promise.all([one.abort(), two.abort()]);
  });
});
