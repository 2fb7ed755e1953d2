import { expect, it } from 'vitest';
import type { EventEnvelope } from '@pgfleet/contracts';
import type { Checkpoint, EventStore, Subscription } from '../port.js';
import {
  nodeStarted,
  nodeStopped,
  ownedBy,
  readAllPages,
  sleep,
  streamOf,
  uniqueTag,
  waitFor,
  withStore,
  type MakeContractStore,
} from './fixtures.js';

function collect(
  store: EventStore,
  subscriberId: string,
  tag: string,
  options: { batchSize?: number; onEvent?: (e: EventEnvelope, count: number) => void } = {},
) {
  const received: EventEnvelope[] = [];
  const errors: unknown[] = [];
  const mine = ownedBy(tag);
  const subscription: Subscription = store.subscribe({
    subscriberId,
    batchSize: options.batchSize,
    onError: (e) => errors.push(e),
    handler: (event) => {
      if (!mine(event)) return;
      received.push(event);
      options.onEvent?.(event, received.length);
    },
  });
  return { received, errors, subscription };
}

function expectStreamOrder(events: EventEnvelope[]): void {
  const last = new Map<string, number>();
  for (const event of events) {
    expect(event.streamVersion).toBe((last.get(event.streamId) ?? 0) + 1);
    last.set(event.streamId, event.streamVersion);
  }
}

/** The global order: readAll paging, durable checkpoints, live subscriptions. */
export function subscriptionContract(make: MakeContractStore): void {
  it('reads all events in global order, page by page, and resumes from a checkpoint', () =>
    withStore(make, async ({ store }) => {
      const tag = uniqueTag();
      for (let round = 0; round < 4; round++) {
        for (const name of ['a', 'b', 'c'])
          await store.appendToStream(streamOf(tag, name), [
            nodeStopped(`${name}${round}`),
            nodeStopped(`${name}${round}x`),
          ]);
      }
      const mine = ownedBy(tag);
      const all = await readAllPages(store, mine, 1000);
      expect(all.events).toHaveLength(24);
      expectStreamOrder(all.events);
      const paged = await readAllPages(store, mine, 5);
      expect(paged.events.map((e) => e.id)).toEqual(all.events.map((e) => e.id));

      const middle = paged.checkpoints[Math.floor(paged.checkpoints.length / 2)]!;
      const rest: EventEnvelope[] = [];
      let after: Checkpoint = middle;
      for (;;) {
        const page = await store.readAll({ after, limit: 7 });
        if (page.events.length === 0) {
          expect(page.checkpoint).toBe(after);
          break;
        }
        rest.push(...page.events.filter(mine));
        after = page.checkpoint;
      }
      const ids = all.events.map((e) => e.id);
      expect(rest.map((e) => e.id)).toEqual(ids.slice(ids.length - rest.length));
      expect(rest.length).toBeGreaterThan(0);
      expect(rest.length).toBeLessThan(24);
    }));

  it('stores and loads durable checkpoints', () =>
    withStore(make, async ({ store }) => {
      const tag = uniqueTag();
      expect(await store.loadCheckpoint(`never-${tag}`)).toBeNull();
      await store.appendToStream(streamOf(tag, 'cp'), [nodeStopped('a')]);
      const { checkpoint } = await store.readAll({ limit: 1 });
      await store.storeCheckpoint(`sub-${tag}`, checkpoint);
      expect(await store.loadCheckpoint(`sub-${tag}`)).toBe(checkpoint);
    }));

  it(
    'delivers every event exactly once, in stream order, ' +
      'to a subscriber running while 20 writers commit out of order',
    () =>
      withStore(make, async ({ store, holdOpenAppend }) => {
        const tag = uniqueTag();
        const { received, errors, subscription } = collect(store, `ooo-${tag}`, tag, { batchSize: 50 });
        const appended: string[] = [];
        const writer = async (w: number) => {
          const stream = streamOf(tag, `w${w}`);
          let version = 0;
          for (let round = 0; round < 5; round++) {
            const events = Array.from({ length: 1 + ((w + round) % 3) }, (_, i) => nodeStopped(`w${w}r${round}e${i}`));
            const hold = () => sleep(Math.floor(Math.random() * 150));
            const result = holdOpenAppend
              ? await holdOpenAppend(stream, events, { expectedVersion: version, hold })
              : await hold().then(() => store.appendToStream(stream, events, { expectedVersion: version }));
            version = result.nextExpectedVersion;
            appended.push(...result.events.map((e) => e.id));
          }
        };
        await Promise.all(Array.from({ length: 20 }, (_, w) => writer(w)));
        await subscription.caughtUp();
        await subscription.stop();

        expect(errors).toEqual([]);
        expect(appended.length).toBeGreaterThan(100);
        const ids = received.map((e) => e.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect([...ids].sort()).toEqual([...appended].sort());
        expectStreamOrder(received);
        const inGlobalOrder = await readAllPages(store, ownedBy(tag), 500);
        expect(ids).toEqual(inGlobalOrder.events.map((e) => e.id));
      }),
  );

  it('resumes a subscriber stopped mid-stream from its checkpoint without gaps or repeats', () =>
    withStore(make, async ({ store }) => {
      const tag = uniqueTag();
      for (let i = 0; i < 6; i++)
        await store.appendToStream(
          streamOf(tag, i % 3),
          Array.from({ length: 5 }, (_, j) => nodeStopped(`e${i}-${j}`)),
        );
      const expected = (await readAllPages(store, ownedBy(tag))).events.map((e) => e.id);
      expect(expected).toHaveLength(30);

      let stopping: Promise<void> | undefined;
      const first = collect(store, `resume-${tag}`, tag, {
        batchSize: 7,
        onEvent: (_e, count) => {
          if (count === 12) stopping = first.subscription.stop();
        },
      });
      await waitFor(() => stopping !== undefined, 'the first subscriber to reach 12 events');
      await stopping;
      expect(first.received).toHaveLength(12);

      const second = collect(store, `resume-${tag}`, tag, { batchSize: 7 });
      await second.subscription.caughtUp();
      await second.subscription.stop();
      expect([...first.received, ...second.received].map((e) => e.id)).toEqual(expected);

      const third = collect(store, `resume-${tag}`, tag);
      await store.appendToStream(streamOf(tag, 'late'), [nodeStopped('late')]);
      await third.subscription.caughtUp();
      await third.subscription.stop();
      expect(third.received.map((e) => (e.data as { nodeId: string }).nodeId)).toEqual(['late']);
    }));

  it('retries a failing handler from its checkpoint without repeating handled events', () =>
    withStore(make, async ({ store }) => {
      const tag = uniqueTag();
      await store.appendToStream(
        streamOf(tag, 'flaky'),
        Array.from({ length: 10 }, (_, i) => nodeStopped(`f${i}`)),
      );
      const seen: string[] = [];
      const errors: unknown[] = [];
      let failed = false;
      const mine = ownedBy(tag);
      const subscription = store.subscribe({
        subscriberId: `flaky-${tag}`,
        batchSize: 4,
        onError: (e) => errors.push(e),
        handler: (event) => {
          if (!mine(event)) return;
          const node = (event.data as { nodeId: string }).nodeId;
          if (node === 'f5' && !failed) {
            failed = true;
            throw new Error('handler failed once');
          }
          seen.push(node);
        },
      });
      await subscription.caughtUp();
      await subscription.stop();
      expect(errors.map((e) => (e as Error).message)).toEqual(['handler failed once']);
      expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `f${i}`));
    }));

  it('follows live appends after catching up, and delivers only the requested types', () =>
    withStore(make, async ({ store }) => {
      const tag = uniqueTag();
      await store.appendToStream(streamOf(tag, 'live'), [nodeStopped('before')]);
      const { received, subscription } = collect(store, `live-${tag}`, tag);
      await subscription.caughtUp();
      expect(received.map((e) => (e.data as { nodeId: string }).nodeId)).toEqual(['before']);
      await store.appendToStream(streamOf(tag, 'live'), [nodeStopped('after')]);
      await waitFor(() => received.length === 2, 'the live event');
      await subscription.stop();
      expect(received.map((e) => (e.data as { nodeId: string }).nodeId)).toEqual(['before', 'after']);

      await store.appendToStream(streamOf(tag, 'live'), [nodeStarted('started', 5432)]);
      const onlyStarted: EventEnvelope[] = [];
      const mine = ownedBy(tag);
      const typed = store.subscribe({
        subscriberId: `typed-${tag}`,
        types: ['NodeStarted'],
        handler: (e) => {
          if (mine(e)) onlyStarted.push(e);
        },
      });
      await typed.caughtUp();
      await typed.stop();
      expect(onlyStarted.map((e) => e.type)).toEqual(['NodeStarted']);
    }));
}
