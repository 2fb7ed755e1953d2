import { describe, expect, it } from 'vitest';
import { parseEnvelope, uuidv7 } from '@pgfleet/contracts';
import { prepareEvents } from '../prepareEvents.js';
import { comparePositions, decodePosition, encodePosition, isDomainRecord, metadataOf, toEnvelope, toExpectedRevision, versionOfRevision } from './mapping.js';

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
    const [prepared] = prepareEvents('cluster-c1', [{ type: 'NodeStopped', data: { nodeId: 'n1' }, correlationId: 'corr', actor: { kind: 'user', id: 'bob' } }]);
    const envelope = toEnvelope({ streamId: 'cluster-c1', id: prepared!.id, revision: 4n, type: prepared!.type, data: prepared!.data, metadata: metadataOf(prepared!), position: { commit: 900n, prepare: 812n } });
    expect(envelope).toMatchObject({ streamVersion: 5, globalPosition: '812', correlationId: 'corr', causationId: null, actor: { kind: 'user', id: 'bob' }, data: { nodeId: 'n1' } });
    expect(parseEnvelope(envelope).ok).toBe(true);
  });

  it('keeps only pgfleet events of $all and orders positions by commit, then prepare', () => {
    const base = { id: uuidv7(), revision: 0n, data: {}, metadata: {} };
    expect(isDomainRecord({ ...base, streamId: 'cluster-a', type: 'NodeStopped' })).toBe(true);
    expect(isDomainRecord({ ...base, streamId: '$stats-127.0.0.1:2113', type: '$statsCollected' })).toBe(false);
    expect(isDomainRecord({ ...base, streamId: 'pgfleet_checkpoint-relay', type: 'PgfleetCheckpoint' })).toBe(false);
    expect(decodePosition(encodePosition({ commit: 10n, prepare: 7n }))).toEqual({ commit: 10n, prepare: 7n });
    expect(decodePosition(null)).toBeUndefined();
    expect(() => decodePosition('12/3')).toThrow(/invalid EventStoreDB checkpoint/);
    expect(comparePositions({ commit: 10n, prepare: 7n }, { commit: 10n, prepare: 8n })).toBe(-1);
    expect(comparePositions({ commit: 11n, prepare: 1n }, { commit: 10n, prepare: 8n })).toBe(1);
  });
});
