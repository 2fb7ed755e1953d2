import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { WakeUp } from './wakeUp.js';

/** A pool whose queries are recorded and answered when the test says so. */
function fakePool() {
  const sent: { at: number; done: () => void }[] = [];
  const pool = {
    query: () => new Promise<void>((resolve) => sent.push({ at: performance.now(), done: resolve })),
  } as unknown as pg.Pool;
  return { pool, sent };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WakeUp', () => {
  it(
    'notifies the first append at once and covers the ones that follow, ' + 'in flight or soon after, by one more',
    async () => {
      const { pool, sent } = fakePool();
      const wakeUp = new WakeUp(pool, 'ch', 50);
      const started = performance.now();
      wakeUp.ping();
      expect(sent).toHaveLength(1);
      for (let i = 0; i < 10; i++) wakeUp.ping();
      sent[0]!.done();
      await sleep(10);
      expect(sent).toHaveLength(1);
      await sleep(200);
      expect(sent).toHaveLength(2);
      expect(sent[1]!.at - started).toBeGreaterThanOrEqual(45);
      sent[1]!.done();
      await sleep(100);
      expect(sent).toHaveLength(2);
    },
  );

  it('sends a waiting wake-up at once on flush (before the pool closes)', async () => {
    const { pool, sent } = fakePool();
    const wakeUp = new WakeUp(pool, 'ch', 60_000);
    wakeUp.ping();
    sent[0]!.done();
    await sleep(1);
    wakeUp.ping();
    expect(sent).toHaveLength(1);
    const flushed = wakeUp.flush();
    expect(sent).toHaveLength(2);
    sent[1]!.done();
    await flushed;
  });
});
