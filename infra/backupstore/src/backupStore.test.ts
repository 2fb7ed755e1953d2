import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
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
  it('writes a file with its size and sha256, reads it back, deletes it', async () => {
    const store = createFileBackupStore(root);
    const seen: number[] = [];
    const stored = await store.put('c1', 'b1', Readable.from([Buffer.from('hello '), Buffer.from('world')]), {
      onProgress: (n) => seen.push(n),
    });
    expect(stored).toEqual({ size: 11, sha256: createHash('sha256').update('hello world').digest('hex') });
    expect(seen).toEqual([6, 11]);
    expect(await store.exists('c1', 'b1')).toBe(true);
    expect(await store.list('c1')).toEqual(['b1']);
    expect(await text(store.open('c1', 'b1'))).toBe('hello world');
    await store.delete('c1', 'b1');
    await store.delete('c1', 'b1');
    expect(await store.exists('c1', 'b1')).toBe(false);
  });

  it('never shows a failed write: no file, no partial left behind', async () => {
    const store = createFileBackupStore(root);
    async function* failing() {
      yield Buffer.from('half of a dump');
      throw new Error('pg_dump died');
    }
    await expect(store.put('c2', 'b1', Readable.from(failing()))).rejects.toThrow('pg_dump died');
    expect(await store.exists('c2', 'b1')).toBe(false);
    expect(await store.list('c2')).toEqual([]);
    expect(readdirSync(join(root, 'c2'))).toEqual([]);
  });

  it('aborts a write on signal and removes the partial file', async () => {
    const store = createFileBackupStore(root);
    const ac = new AbortController();
    const source = new Readable({ read() {} });
    const put = store.put('c3', 'b1', source, { signal: ac.signal, onProgress: () => ac.abort() });
    source.push(Buffer.from('first chunk'));
    await expect(put).rejects.toThrow(/abort/i);
    expect(existsSync(join(root, 'c3', 'b1.dump.partial'))).toBe(false);
    expect(await store.exists('c3', 'b1')).toBe(false);
  });
});
