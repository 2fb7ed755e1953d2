import { describe, expect, it } from 'vitest';
import { actorLabel, categoryOf, parseEnvelope, validateEvent } from './envelope.js';
import { UPCASTERS } from './events/index.js';
import { uuidv7 } from './ids.js';

const wire = {
  id: uuidv7(Date.parse('2025-01-01T00:00:00Z')),
  type: 'ClusterReady',
  streamId: 'cluster-c1',
  streamVersion: 3,
  globalPosition: '17',
  occurredAt: '2025-01-01T00:00:00+00:00',
  schemaVersion: 1,
  correlationId: 'corr-1',
  causationId: 'cause-1',
  actor: { kind: 'service', id: 'provisioning' },
  data: { leader: 'n1', host: '127.0.0.1', port: 6432, database: 'app', user: 'app' },
};

describe('event envelope', () => {
  it('parses a full envelope from the wire', () => {
    const parsed = parseEnvelope(wire);
    expect(parsed).toEqual({ ok: true, value: wire });
  });

  it('rejects bad metadata naming the field', () => {
    const parsed = parseEnvelope({ ...wire, streamVersion: 0 });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.rejection.code).toBe('INVALID_EVENT');
      expect(parsed.rejection.details?.field).toBe('streamVersion');
    }
    const notV7 = parseEnvelope({ ...wire, id: '123e4567-e89b-42d3-a456-426614174000' });
    expect(notV7.ok || notV7.rejection.details?.field).toBe('id');
  });

  it('rejects bad data naming the field inside data', () => {
    const parsed = parseEnvelope({ ...wire, data: { ...wire.data, port: -1 } });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.rejection.message).toMatch(/^invalid ClusterReady event: port: /);
  });

  it('rejects an unknown event type', () => {
    expect(validateEvent('NoSuchThing', {})).toEqual({
      ok: false,
      rejection: {
        code: 'UNKNOWN_EVENT_TYPE',
        message: 'unknown event type "NoSuchThing"',
        details: { field: 'type', rule: 'known_event_type' },
      },
    });
    expect(parseEnvelope({ ...wire, type: 'toString' }).ok).toBe(false);
    // A type from JSON that is no string, even one no string conversion works on, is unknown, not a TypeError.
    const notAString = JSON.parse('{"toString":""}') as string;
    expect(validateEvent(notAString, {})).toMatchObject({ ok: false, rejection: { code: 'UNKNOWN_EVENT_TYPE' } });
  });

  it("refuses a schema version it has no upcaster for, and knows each type's category", () => {
    expect(UPCASTERS.ClusterReady).toBeUndefined();
    expect(validateEvent('ClusterReady', wire.data, 1).ok).toBe(true);
    expect(categoryOf('BackupEvicted')).toBe('backups');
    expect(categoryOf('LeaderChanged')).toBe('cluster');
  });
});

describe('actors', () => {
  it('record who acted: an account, the admin, a service; old `user:api` events stay readable', () => {
    expect(actorLabel({ kind: 'account', id: 'acme' })).toBe('account:acme');
    expect(actorLabel({ kind: 'admin', id: 'admin' })).toBe('admin');
    expect(actorLabel({ kind: 'service', id: 'backup' })).toBe('service:backup');
    const before = parseEnvelope({ ...wire, actor: { kind: 'user', id: 'api' } });
    expect(before.ok && actorLabel(before.value.actor)).toBe('user:api');
    const now = parseEnvelope({ ...wire, actor: { kind: 'account', id: 'acme' } });
    expect(now.ok).toBe(true);
  });

  it('account tokens are recorded as hashes on tokens-{accountId}, apart from billing', () => {
    expect(categoryOf('AccountCreated')).toBe('tokens');
    const hash = 'a'.repeat(64);
    expect(validateEvent('AccountTokenRotated', { accountId: 'acme', tokenHash: hash }).ok).toBe(true);
    const plain = validateEvent('AccountCreated', { accountId: 'acme', tokenHash: 'pgf_acme.secret' });
    expect(plain).toMatchObject({ ok: false, rejection: { details: { field: 'tokenHash' } } });
  });
});
