import { expect, it } from 'vitest';
import { EVENTS, parseEnvelope, uuidv7 } from '@pgfleet/contracts';
import { InvalidEvent, WrongExpectedVersion, type NewEvent } from '../port.js';
import {
  nodeStarted,
  nodeStopped,
  ownedBy,
  readAllPages,
  streamOf,
  uniqueTag,
  withStore,
  type MakeContractStore,
} from './fixtures.js';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Appends and stream reads: envelopes, expected versions, conflicts, validation, idempotency. */
export function appendContract(make: MakeContractStore): void {
  it('appends and reads back a stream with every envelope field', () =>
    withStore(make, async ({ store }) => {
      const stream = streamOf(uniqueTag(), 'roundtrip');
      const occurredAt = new Date('2024-05-06T07:08:09.123Z');
      const given = {
        id: uuidv7(),
        correlationId: 'corr-1',
        causationId: 'cause-1',
        actor: { kind: 'user', id: 'alice' },
        occurredAt,
      } as const;
      const result = await store.appendToStream(stream, [nodeStopped('n1'), nodeStopped('n2', given)], {
        expectedVersion: 'no_stream',
      });

      expect(result.nextExpectedVersion).toBe(2);
      expect(result.alreadyAppended).toBe(false);
      const [first, second] = result.events;
      expect(first).toMatchObject({
        type: 'NodeStopped',
        streamId: stream,
        streamVersion: 1,
        data: { nodeId: 'n1' },
        causationId: null,
        actor: { kind: 'system', id: 'pgfleet' },
        schemaVersion: EVENTS.NodeStopped.schemaVersion,
      });
      expect(first!.id).toMatch(UUIDV7);
      expect(first!.correlationId).toBe(first!.id);
      expect(new Date(first!.occurredAt).toISOString()).toBe(first!.occurredAt);
      expect(second).toMatchObject({
        ...given,
        occurredAt: occurredAt.toISOString(),
        streamVersion: 2,
        data: { nodeId: 'n2' },
      });
      expect(BigInt(second!.globalPosition)).toBeGreaterThan(BigInt(first!.globalPosition));
      for (const event of result.events) expect(parseEnvelope(event).ok).toBe(true);

      const read = await store.readStream(stream);
      expect(read.currentVersion).toBe(2);
      expect(read.events).toEqual(result.events);
      expect(await store.readStream(streamOf(uniqueTag(), 'missing'))).toEqual({ events: [], currentVersion: 0 });
    }));

  it('reads a stream within a version range and as of an instant', () =>
    withStore(make, async ({ store }) => {
      const stream = streamOf(uniqueTag(), 'ranges');
      const at = (iso: string) => new Date(iso);
      await store.appendToStream(stream, [
        nodeStopped('a', { occurredAt: at('2024-01-01T00:00:00.000Z') }),
        nodeStopped('b', { occurredAt: at('2024-01-02T00:00:00.000Z') }),
        nodeStopped('c', { occurredAt: at('2024-01-03T00:00:00.000Z') }),
      ]);
      const nodes = (r: { events: { data: unknown }[] }) => r.events.map((e) => (e.data as { nodeId: string }).nodeId);
      expect(nodes(await store.readStream(stream, { fromVersion: 2 }))).toEqual(['b', 'c']);
      expect(nodes(await store.readStream(stream, { toVersion: 2 }))).toEqual(['a', 'b']);
      const asOf = await store.readStream(stream, { until: at('2024-01-02T00:00:00.000Z') });
      expect(nodes(asOf)).toEqual(['a', 'b']);
      expect(asOf.currentVersion).toBe(3);
    }));

  it('honours expected versions: no_stream, stream_exists, any and exact (0 = no stream)', () =>
    withStore(make, async ({ store }) => {
      const tag = uniqueTag();
      const stream = streamOf(tag, 'versions');
      await expect(
        store.appendToStream(stream, [nodeStopped('x')], { expectedVersion: 'stream_exists' }),
      ).rejects.toBeInstanceOf(WrongExpectedVersion);
      await expect(store.appendToStream(stream, [nodeStopped('x')], { expectedVersion: 1 })).rejects.toBeInstanceOf(
        WrongExpectedVersion,
      );
      expect((await store.appendToStream(stream, [nodeStopped('x')], { expectedVersion: 0 })).nextExpectedVersion).toBe(
        1,
      );

      const conflict = await store
        .appendToStream(stream, [nodeStopped('y')], { expectedVersion: 'no_stream' })
        .catch((e: unknown) => e);
      expect(conflict).toBeInstanceOf(WrongExpectedVersion);
      expect(conflict).toMatchObject({
        code: 'WRONG_EXPECTED_VERSION',
        streamId: stream,
        expected: 'no_stream',
        actual: 1,
      });

      expect(
        (await store.appendToStream(stream, [nodeStopped('y')], { expectedVersion: 'stream_exists' }))
          .nextExpectedVersion,
      ).toBe(2);
      expect((await store.appendToStream(stream, [nodeStopped('z')], { expectedVersion: 2 })).nextExpectedVersion).toBe(
        3,
      );
      await expect(store.appendToStream(stream, [nodeStopped('z')], { expectedVersion: 2 })).rejects.toMatchObject({
        actual: 3,
      });
      expect(
        (await store.appendToStream(stream, [nodeStopped('w')], { expectedVersion: 'any' })).nextExpectedVersion,
      ).toBe(4);
      expect((await store.appendToStream(streamOf(tag, 'fresh'), [nodeStopped('v')])).nextExpectedVersion).toBe(1);
      expect((await store.readStream(stream)).events.map((e) => e.streamVersion)).toEqual([1, 2, 3, 4]);
    }));

  it('lets exactly one of two writers at the same expected version win; the other gets WrongExpectedVersion', () =>
    withStore(make, async ({ store, holdOpenAppend }) => {
      const stream = streamOf(uniqueTag(), 'race');
      for (let version = 0; version < 6; version++) {
        const slow =
          holdOpenAppend && version % 2 === 1
            ? holdOpenAppend(stream, [nodeStopped(`a${version}`)], {
                expectedVersion: version,
                hold: () => new Promise((r) => setTimeout(r, 100)),
              })
            : store.appendToStream(stream, [nodeStopped(`a${version}`)], { expectedVersion: version });
        const outcomes = await Promise.allSettled([
          slow,
          store.appendToStream(stream, [nodeStopped(`b${version}`)], { expectedVersion: version }),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(lost[0]!.reason).toBeInstanceOf(WrongExpectedVersion);
        expect(lost[0]!.reason).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', actual: version + 1 });
      }
      const read = await store.readStream(stream);
      expect(read.currentVersion).toBe(6);
      expect(read.events.map((e) => e.streamVersion)).toEqual([1, 2, 3, 4, 5, 6]);
    }));

  it('refuses a malformed event with an InvalidEvent naming the field and stores nothing of its batch', () =>
    withStore(make, async ({ store }) => {
      const tag = uniqueTag();
      const stream = streamOf(tag, 'malformed');
      await store.appendToStream(stream, [nodeStopped('ok')]);

      const error = await store
        .appendToStream(stream, [nodeStopped('fine'), nodeStarted('n1', -5)])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidEvent);
      expect(error).toMatchObject({ code: 'INVALID_EVENT', details: { field: 'port' } });
      expect((error as Error).message).toContain('port');

      const unknown = await store
        .appendToStream(stream, [{ type: 'NoSuchThing', data: {} } as unknown as NewEvent])
        .catch((e: unknown) => e);
      expect(unknown).toMatchObject({ code: 'INVALID_EVENT', details: { field: 'type' } });
      await expect(store.appendToStream(streamOf(tag, 'other'), [nodeStopped('bad id!')])).rejects.toMatchObject({
        code: 'INVALID_EVENT',
        details: { field: 'nodeId' },
      });
      await expect(store.appendToStream('Not A Stream', [nodeStopped('n')])).rejects.toMatchObject({
        code: 'INVALID_EVENT',
        details: { field: 'streamId' },
      });

      const read = await store.readStream(stream);
      expect(read.currentVersion).toBe(1);
      expect(read.events.map((e) => (e.data as { nodeId: string }).nodeId)).toEqual(['ok']);
      expect((await store.readStream(streamOf(tag, 'other'))).currentVersion).toBe(0);
      expect((await readAllPages(store, ownedBy(tag))).events).toHaveLength(1);
    }));

  it('is idempotent by event id: a repeated batch stores nothing, a partly stored batch is refused', () =>
    withStore(make, async ({ store }) => {
      const stream = streamOf(uniqueTag(), 'idempotent');
      const batch = [nodeStopped('a', { id: uuidv7() }), nodeStopped('b', { id: uuidv7() })];
      const first = await store.appendToStream(stream, batch, { expectedVersion: 'no_stream' });
      const again = await store.appendToStream(stream, batch, { expectedVersion: 'no_stream' });
      expect(again.alreadyAppended).toBe(true);
      expect(again.nextExpectedVersion).toBe(2);
      expect(again.events).toEqual(first.events);

      const partly = [batch[1]!, nodeStopped('c', { id: uuidv7() })];
      await expect(store.appendToStream(stream, partly)).rejects.toMatchObject({
        code: 'INVALID_EVENT',
        details: { field: 'id' },
      });
      const read = await store.readStream(stream);
      expect(read.currentVersion).toBe(2);
      expect(read.events.map((e) => e.id)).toEqual(first.events.map((e) => e.id));
    }));
}
