import { describe, expect, it } from 'vitest';
import { uuidv7 } from '@pgfleet/contracts';
import { InvalidEvent, type NewEvent } from './port.js';
import { prepareEvents } from './prepareEvents.js';

const now = new Date('2024-03-04T05:06:07.890Z');
const stopped = (extra: Partial<NewEvent> = {}) =>
  ({ type: 'NodeStopped', data: { nodeId: 'n1' }, ...extra }) as NewEvent;

describe('prepareEvents', () => {
  it('fills in the envelope defaults: UUIDv7 id, correlation = own id, no causation, system actor, now', () => {
    const [event] = prepareEvents('cluster-c1', [stopped()], now);
    expect(event).toMatchObject({
      type: 'NodeStopped',
      data: { nodeId: 'n1' },
      schemaVersion: 1,
      causationId: null,
      actor: { kind: 'system', id: 'pgfleet' },
      occurredAt: now.toISOString(),
    });
    expect(event!.correlationId).toBe(event!.id);
    expect(event!.id.slice(14, 15)).toBe('7');
  });

  it('keeps given metadata and strips unknown data fields through the schema', () => {
    const id = uuidv7();
    const [event] = prepareEvents(
      'cluster-c1',
      [
        stopped({
          id,
          correlationId: 'c',
          causationId: 'k',
          actor: { kind: 'service', id: 'ha' },
          data: { nodeId: 'n1', extra: 1 } as never,
        }),
      ],
      now,
    );
    expect(event).toMatchObject({
      id,
      correlationId: 'c',
      causationId: 'k',
      actor: { kind: 'service', id: 'ha' },
      data: { nodeId: 'n1' },
    });
    expect(event!.data).not.toHaveProperty('extra');
  });

  it('refuses the whole batch at the first malformed event, naming the field', () => {
    const error = (() => {
      try {
        prepareEvents(
          'cluster-c1',
          [stopped(), { type: 'NodeStarted', data: { nodeId: 'n1', port: 'x' } } as never],
          now,
        );
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidEvent);
    expect(error).toMatchObject({ code: 'INVALID_EVENT', details: { field: 'port', index: 1 } });
  });

  it('refuses bad stream ids, bad ids, duplicate ids and invalid instants', () => {
    expect(() => prepareEvents('nocategory', [stopped()])).toThrow(/stream id/);
    expect(() => prepareEvents('cluster-c1', [stopped({ id: 'not-a-uuid' })])).toThrow(InvalidEvent);
    const id = uuidv7();
    expect(() => prepareEvents('cluster-c1', [stopped({ id }), stopped({ id })])).toThrow(/twice/);
    expect(() => prepareEvents('cluster-c1', [stopped({ occurredAt: new Date('nope') })])).toThrow(/occurredAt/);
  });
});
