import { describe, expect, it } from 'vitest';
import { parseEnvelope, uuidv7 } from '@pgfleet/contracts';
import { prepareEvents } from '../prepareEvents.js';
import {
  comparePositions,
  decodePosition,
  encodePosition,
  isDomainRecord,
  metadataOf,
  toEnvelope,
  toExpectedRevision,
  versionOfRevision,
} from './mapping.js';

describe('EventStoreDB mapping', () => {
  it('maps expected versions (event counts) to 0-based expected revisions', () => {
    expect(toExpectedRevision('any')).toBe('any');
    expect(toExpectedRevision('no_stream')).toBe('no_stream');
    expect(toExpectedRevision(0)).toBe('no_stream');
    expect(toExpectedRevision('stream_exists')).toBe('stream_exists');
    expect(toExpectedRevision(3)).toBe(2n);
    expect(versionOfRevision(2n)).toBe(3);
    expect(versionOfRevision('no_stream')).toBe(0);
  });

  it('round-trips an event through EventStoreDB records into a valid envelope', () => {
    const [prepared] = prepareEvents('cluster-c1', [
      { type: 'NodeStopped', data: { nodeId: 'n1' }, correlationId: 'corr', actor: { kind: 'user', id: 'bob' } },
    ]);
    const read = toEnvelope({
      streamId: 'cluster-c1',
      id: prepared!.id,
      revision: 4n,
      type: prepared!.type,
      data: prepared!.data,
      metadata: metadataOf(prepared!),
      position: { commit: 900n, prepare: 812n },
    });
    if (!read.ok) throw new Error(read.parked.reason);
    const envelope = read.event;
    expect(envelope).toMatchObject({
      streamVersion: 5,
      globalPosition: '812',
      correlationId: 'corr',
      causationId: null,
      actor: { kind: 'user', id: 'bob' },
      data: { nodeId: 'n1' },
    });
    expect(parseEnvelope(envelope).ok).toBe(true);
  });

  it('reads an old schema version upcast, and parks what it cannot read instead of throwing', () => {
    const record = { streamId: 'cluster-c1', id: uuidv7(), revision: 0n, position: { commit: 9n, prepare: 9n } };
    const meta = (schemaVersion: number) => ({
      schemaVersion,
      occurredAt: '2024-01-01T00:00:00.000Z',
      correlationId: 'c',
      causationId: null,
      actor: { kind: 'system', id: 'pgfleet' },
    });
    const old = toEnvelope({
      ...record,
      type: 'NodeProvisioned',
      data: { nodeId: 'n1', role: 'leader', port: 5432, dataDir: '/var/x' },
      metadata: meta(1),
    });
    expect(old).toMatchObject({
      ok: true,
      event: { schemaVersion: 2, data: { nodeId: 'n1', role: 'leader', port: 5432 } },
    });
    expect(old.ok && old.event.data).not.toHaveProperty('dataDir');
    expect(toEnvelope({ ...record, type: 'NodeStopped', data: { nodeId: 'n1' }, metadata: meta(9) })).toMatchObject({
      ok: false,
      parked: {
        id: record.id,
        streamId: 'cluster-c1',
        streamVersion: 1,
        type: 'NodeStopped',
        schemaVersion: 9,
        code: 'UPCAST_FAILED',
      },
    });
    expect(toEnvelope({ ...record, type: 'NoSuchEvent', data: {}, metadata: meta(1) })).toMatchObject({
      ok: false,
      parked: { code: 'UNKNOWN_EVENT_TYPE' },
    });
  });

  it('keeps only pgfleet events of $all and orders positions by commit, then prepare', () => {
    const base = { id: uuidv7(), revision: 0n, data: {}, metadata: {} };
    expect(isDomainRecord({ ...base, streamId: 'cluster-a', type: 'NodeStopped' })).toBe(true);
    expect(isDomainRecord({ ...base, streamId: '$stats-127.0.0.1:2113', type: '$statsCollected' })).toBe(false);
    expect(isDomainRecord({ ...base, streamId: 'pgfleet_checkpoint-relay', type: 'PgfleetCheckpoint' })).toBe(false);
    expect(isDomainRecord({ ...base, streamId: 'cluster-a', type: 'ATypeFromTheFuture' })).toBe(true);
    expect(decodePosition(encodePosition({ commit: 10n, prepare: 7n }))).toEqual({ commit: 10n, prepare: 7n });
    expect(decodePosition(null)).toBeUndefined();
    expect(() => decodePosition('12/3')).toThrow(/invalid EventStoreDB checkpoint/);
    expect(comparePositions({ commit: 10n, prepare: 7n }, { commit: 10n, prepare: 8n })).toBe(-1);
    expect(comparePositions({ commit: 11n, prepare: 1n }, { commit: 10n, prepare: 8n })).toBe(1);
  });
});
