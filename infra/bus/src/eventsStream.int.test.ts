import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nanos } from '@nats-io/transport-node';
import { EVENTS_STREAM, eventSubject } from '@pgfleet/contracts';
import { EVENTS_DUPLICATE_WINDOW_MS, ensureEventsStream } from './eventsStream.js';
import { publishEvent } from './publishEvent.js';
import { startNatsHarness, storedEvent, type NatsHarness } from './testing/harness.js';

let h: NatsHarness;
beforeAll(async () => {
  h = await startNatsHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('PGFLEET_EVENTS stream', () => {
  it(
    'is file-backed on pgfleet.events.> with a 10 minute duplicate window, ' +
      'and ensuring it again updates drifted settings',
    async () => {
      await h.jsm.streams.update(EVENTS_STREAM, { duplicate_window: nanos(1000) });
      const info = await ensureEventsStream(h.jsm);
      expect(info.config).toMatchObject({
        name: EVENTS_STREAM,
        subjects: ['pgfleet.events.>'],
        storage: 'file',
        duplicate_window: nanos(EVENTS_DUPLICATE_WINDOW_MS),
      });
      const again = await ensureEventsStream(h.jsm);
      expect(again.config.duplicate_window).toBe(nanos(EVENTS_DUPLICATE_WINDOW_MS));
    },
  );

  it('stores an event once on its subject however often it is published (Nats-Msg-Id = event id)', async () => {
    const event = storedEvent('cluster-dedupe1', 1);
    const first = await publishEvent(h.js, event);
    const second = await publishEvent(h.js, event);
    expect(first.duplicate).toBe(false);
    expect(second).toMatchObject({ duplicate: true, seq: first.seq });
    const stored = await h.jsm.streams.getMessage(EVENTS_STREAM, { seq: first.seq });
    expect(stored!.subject).toBe(eventSubject('cluster-dedupe1', 'NodeStopped'));
    expect(stored!.subject).toBe('pgfleet.events.cluster.cluster-dedupe1.NodeStopped');
    expect(stored!.header.get('Nats-Msg-Id')).toBe(event.id);
    expect(stored!.json()).toEqual(event);
  });
});
