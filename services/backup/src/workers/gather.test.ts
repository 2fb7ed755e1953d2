import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { gatherChunks } from './gather.js';

/** The pieces as they are passed on (flowing mode: one `data` event each). */
function pieces(source: Readable): Promise<Buffer[]> {
  const out: Buffer[] = [];
  return new Promise((resolve, reject) => {
    source.on('data', (chunk: Buffer) => out.push(chunk));
    source.on('end', () => resolve(out));
    source.on('error', reject);
  });
}

describe('gatherChunks', () => {
  it('passes the same bytes on in pieces of at least the size, the rest at the end', async () => {
    const small = Array.from({ length: 10 }, (_, i) => Buffer.alloc(3, i));
    const gathered = await pieces(gatherChunks(Readable.from(small), 8));
    expect(gathered.map((p) => p.length)).toEqual([9, 9, 9, 3]);
    expect(Buffer.concat(gathered)).toEqual(Buffer.concat(small));
  });

  it('passes nothing on for an empty output', async () => {
    expect(await pieces(gatherChunks(Readable.from([]), 8))).toEqual([]);
  });

  it('fails with the error of its source (a tool that failed), whatever it held', async () => {
    const source = new PassThrough();
    const gathered = gatherChunks(source, 1024);
    source.write(Buffer.from('half a dump'));
    source.destroy(new Error('pg_dump failed: connection lost'));
    await expect(pieces(gathered)).rejects.toThrow('pg_dump failed: connection lost');
  });
});
