import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_STREAM, eventFilter, type EventEnvelope } from '@pgfleet/contracts';
import { consumeEvents } from './consumer.js';
import type { BusLogger } from './logger.js';
import { publishEvent } from './publishEvent.js';
import { tailEvents } from './tail.js';
import { sleep, startNatsHarness, storedEvent, waitFor, type NatsHarness } from './testing/harness.js';

let h: NatsHarness;
let tagCount = 0;
const tag = () => `t${Date.now().toString(36)}${++tagCount}`;

beforeAll(async () => {
  h = await startNatsHarness();
});
afterAll(async () => {
  await h?.close();
});

function recordingLogger() {
  const lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => lines.push({ level, msg, obj });
  const logger: BusLogger = { info: at('info'), warn: at('warn'), error: at('error') };
  return { lines, logger };
}

describe('durable event consumers', () => {
  it('acks each handled event once and a restarted consumer resumes after the last ack', async () => {
    const stream = `cluster-${tag()}`;
    const filter = eventFilter({ streamId: stream });
    const events = Array.from({ length: 20 }, (_, i) => storedEvent(stream, i + 1));
    for (const e of events.slice(0, 10)) await publishEvent(h.js, e);
    const seen: string[] = [];
    const durable = `d-${tag()}`;
    const first = await consumeEvents({
      js: h.js,
      durable,
      filterSubjects: [filter],
      handler: (e) => void seen.push(e.id),
    });
    await waitFor(() => seen.length === 10, 'first 10 events');
    await waitFor(
      async () => (await h.jsm.consumers.info(EVENTS_STREAM, durable)).num_ack_pending === 0,
      'acks recorded',
    );
    await first.stop();
    for (const e of events.slice(10)) await publishEvent(h.js, e);
    const second = await consumeEvents({
      js: h.js,
      durable,
      filterSubjects: [filter],
      handler: (e) => void seen.push(e.id),
    });
    await waitFor(() => seen.length >= 20, 'remaining events');
    await sleep(300);
    await second.stop();
    expect(seen).toEqual(events.map((e) => e.id));
    const info = await h.jsm.consumers.info(EVENTS_STREAM, durable);
    expect(info.config.ack_policy).toBe('explicit');
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  });

  it('redelivers an event whose handler failed, and gives it up after max_deliver deliveries', async () => {
    const stream = `cluster-${tag()}`;
    const [flaky, hopeless] = [storedEvent(stream, 1), storedEvent(stream, 2)];
    const deliveries = new Map<string, number[]>();
    const { lines, logger } = recordingLogger();
    const consumer = await consumeEvents({
      js: h.js,
      durable: `d-${tag()}`,
      filterSubjects: [eventFilter({ streamId: stream })],
      maxDeliver: 3,
      ackWaitsMs: [2000, 2000],
      retryDelaysMs: [50],
      logger,
      handler: (e, d) => {
        deliveries.set(e.id, [...(deliveries.get(e.id) ?? []), d.deliveryCount]);
        if (e.id === hopeless.id || d.deliveryCount < 2) throw new Error('not yet');
      },
    });
    await publishEvent(h.js, flaky);
    await publishEvent(h.js, hopeless);
    await waitFor(
      () => (deliveries.get(hopeless.id)?.length ?? 0) >= 3 && (deliveries.get(flaky.id)?.length ?? 0) >= 2,
      'redeliveries',
    );
    await sleep(1000);
    await consumer.stop();
    expect(deliveries.get(flaky.id)).toEqual([1, 2]);
    expect(deliveries.get(hopeless.id)).toEqual([1, 2, 3]);
    expect(lines.some((l) => l.level === 'error' && l.obj.eventId === hopeless.id && /given up/.test(l.msg))).toBe(
      true,
    );
  });

  it('terminates a malformed event message instead of redelivering it, and handles the next one', async () => {
    const stream = `cluster-${tag()}`;
    const good = storedEvent(stream, 2);
    const { lines, logger } = recordingLogger();
    const handled: string[] = [];
    const durable = `d-${tag()}`;
    const consumer = await consumeEvents({
      js: h.js,
      durable,
      filterSubjects: [eventFilter({ streamId: stream })],
      retryDelaysMs: [50],
      logger,
      handler: (e) => void handled.push(e.id),
    });
    await h.js.publish(
      `pgfleet.events.cluster.${stream}.NodeStopped`,
      new TextEncoder().encode('{"not":"an envelope"'),
    );
    await h.js.publish(
      `pgfleet.events.cluster.${stream}.NodeStopped`,
      new TextEncoder().encode(JSON.stringify({ ...storedEvent(stream, 1), data: { nodeId: 'bad id with spaces' } })),
    );
    await publishEvent(h.js, good);
    await waitFor(() => handled.length === 1, 'the valid event');
    await waitFor(
      async () => (await h.jsm.consumers.info(EVENTS_STREAM, durable)).num_ack_pending === 0,
      'no pending acks',
    );
    await consumer.stop();
    expect(handled).toEqual([good.id]);
    const terminated = lines.filter((l) => /malformed event message terminated/.test(l.msg));
    expect(terminated.map((l) => l.obj.code)).toEqual(['MALFORMED_JSON', 'INVALID_EVENT']);
    expect(String(terminated[1]!.obj.reason)).toMatch(/nodeId/);
  });

  it(
    'terminates an event whose schema version cannot be upcast (UPCAST_FAILED), keeps consuming, ' +
      'and hands an old version over upcast',
    async () => {
      const stream = `cluster-${tag()}`;
      const { lines, logger } = recordingLogger();
      const handled: EventEnvelope[] = [];
      const durable = `d-${tag()}`;
      const filterSubjects = [eventFilter({ streamId: stream })];
      const consumer = await consumeEvents({
        js: h.js,
        durable,
        filterSubjects,
        logger,
        handler: (e) => void handled.push(e),
      });
      const future = { ...storedEvent(stream, 1), schemaVersion: 9 } as EventEnvelope;
      const old = {
        ...storedEvent(stream, 2),
        type: 'NodeProvisioned',
        schemaVersion: 1,
        data: { nodeId: 'n1', role: 'leader', port: 6001, dataDir: '/var/lib/pgfleet/n1' },
      } as EventEnvelope;
      const next = storedEvent(stream, 3);
      for (const e of [future, old, next]) await publishEvent(h.js, e);
      await waitFor(() => handled.length === 2, 'the two readable events');
      await waitFor(
        async () => (await h.jsm.consumers.info(EVENTS_STREAM, durable)).num_ack_pending === 0,
        'no pending acks',
      );
      await consumer.stop();
      expect(handled.map((e) => e.id)).toEqual([old.id, next.id]);
      expect(handled[0]).toMatchObject({ schemaVersion: 2, data: { nodeId: 'n1', role: 'leader', port: 6001 } });
      expect(handled[0]!.data).not.toHaveProperty('dataDir');
      const terminated = lines.filter((l) => /malformed event message terminated/.test(l.msg));
      expect(terminated.map((l) => [l.level, l.obj.code])).toEqual([['error', 'UPCAST_FAILED']]);
      expect(String(terminated[0]!.obj.reason)).toMatch(/NodeStopped v9/);
      expect((await h.jsm.consumers.info(EVENTS_STREAM, durable)).num_redelivered).toBe(0);
    },
  );

  it('lets two replicas share one durable: every event is handled once overall', async () => {
    const stream = `cluster-${tag()}`;
    const durable = `d-${tag()}`;
    const handledBy = new Map<string, string[]>();
    const other = await h.connect('replica-2');
    const { jetstream } = await import('@nats-io/jetstream');
    const replica = (name: string, js = h.js) =>
      consumeEvents({
        js,
        durable,
        batch: 10,
        filterSubjects: [eventFilter({ streamId: stream })],
        handler: async (e) => {
          handledBy.set(e.id, [...(handledBy.get(e.id) ?? []), name]);
          await sleep(1);
        },
      });
    const [a, b] = await Promise.all([replica('a'), replica('b', jetstream(other))]);
    const events = Array.from({ length: 400 }, (_, i) => storedEvent(stream, i + 1));
    await Promise.all(events.map((e) => publishEvent(h.js, e)));
    await waitFor(() => handledBy.size === 400, 'every event handled');
    await waitFor(
      async () => (await h.jsm.consumers.info(EVENTS_STREAM, durable)).num_ack_pending === 0,
      'no pending acks',
    );
    await Promise.all([a.stop(), b.stop()]);
    const counts = [...handledBy.values()];
    expect(counts.every((by) => by.length === 1)).toBe(true);
    const byA = counts.filter((by) => by[0] === 'a').length;
    expect(byA).toBeGreaterThan(0);
    expect(byA).toBeLessThan(400);
    expect((await h.jsm.consumers.list(EVENTS_STREAM).next()).filter((c) => c.name === durable)).toHaveLength(1);
  });
});

describe('tailEvents', () => {
  it('follows a filter from a start time with an ephemeral ordered consumer', async () => {
    const stream = `cluster-${tag()}`;
    const before = storedEvent(stream, 1);
    await publishEvent(h.js, before);
    await sleep(20);
    const since = new Date();
    await sleep(20);
    const wanted = [storedEvent(stream, 2), storedEvent(stream, 3)];
    const elsewhere = storedEvent(`cluster-${tag()}`, 1);
    for (const e of [wanted[0]!, elsewhere, wanted[1]!]) await publishEvent(h.js, e);
    const got: EventEnvelope[] = [];
    const tail = await tailEvents({
      js: h.js,
      filter: eventFilter({ streamId: stream }),
      since,
      onEvent: (e) => void got.push(e),
    });
    await waitFor(() => got.length >= 2, 'tailed events');
    const live = storedEvent(stream, 4);
    await publishEvent(h.js, live);
    await waitFor(() => got.length >= 3, 'live event');
    await tail.stop();
    expect(got.map((e) => e.id)).toEqual([...wanted, live].map((e) => e.id));
    expect(got[0]!.type).toBe('NodeStopped');
  });
});
