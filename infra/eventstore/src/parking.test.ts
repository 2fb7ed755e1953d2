import { afterEach, describe, expect, it, vi } from 'vitest';
import { logParkedEvent, Parking } from './parking.js';
import type { ParkedEvent } from './port.js';

const parked = (id: string): ParkedEvent => ({
  id,
  streamId: 'cluster-c1',
  streamVersion: 3,
  type: 'NodeStopped',
  schemaVersion: 9,
  code: 'UPCAST_FAILED',
  reason: 'too new',
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Parking', () => {
  it('reports each parked event once, only the ones it newly recorded, and survives a failing report', async () => {
    const reported: string[] = [];
    const recordedElsewhere = new Set(['b']);
    const parking = new Parking(
      (e) => {
        reported.push(e.id);
        throw new Error('a broken reporter');
      },
      async (events) => new Set(events.map((e) => e.id).filter((id) => !recordedElsewhere.has(id))),
    );
    await parking.park([parked('a'), parked('b')]);
    await parking.park([parked('a'), parked('c')]);
    await parking.park([parked('c')]);
    expect(reported).toEqual(['a', 'c']);
  });

  it('reports an event it could not record, and tries to record it again next time', async () => {
    const reported: ParkedEvent[] = [];
    let fail = true;
    const parking = new Parking(
      (e) => void reported.push(e),
      async (events) => {
        if (fail) throw new Error('connection lost');
        return new Set(events.map((e) => e.id));
      },
    );
    await parking.park([parked('a')]);
    fail = false;
    await parking.park([parked('a')]);
    await parking.park([parked('a')]);
    expect(reported.map((e) => e.reason)).toEqual(['too new (not recorded: connection lost)', 'too new']);
  });

  it('logs to stderr as one JSON line by default', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    logParkedEvent(parked('a'));
    expect(write).toHaveBeenCalledTimes(1);
    const line = String(write.mock.calls[0]![0]);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ level: 'warn', ...parked('a') });
  });
});
