import { describe, expect, it } from 'vitest';
import { KeyedQueue } from './keyedQueue.js';

describe('KeyedQueue', () => {
  it('never overlaps runs of one key, coalesces requests made during a run, rejects a failed run', async () => {
    const log: string[] = [];
    let active = 0;
    let maxActive = 0;
    const errors: string[] = [];
    const q = new KeyedQueue(
      async (key) => {
        active++;
        maxActive = Math.max(maxActive, active);
        log.push(key);
        await new Promise((r) => setTimeout(r, 10));
        active--;
        if (key === 'bad') throw new Error('boom');
      },
      (key, e) => errors.push(`${key}: ${(e as Error).message}`),
    );
    const first = q.request('a');
    void q.request('a');
    void q.request('a');
    await first;
    await expect(q.request('bad')).rejects.toThrow('boom');
    await q.idle();
    expect(log).toEqual(['a', 'a', 'bad']);
    expect(maxActive).toBe(1);
    expect(errors).toEqual(['bad: boom']);
  });
});
