import { describe, expect, it } from 'vitest';
import { COMMANDS } from './commands/index.js';
import { validateEvent } from './envelope.js';
import { EVENT_TYPES } from './events/index.js';
import { uuidv7 } from './ids.js';
import {
  allJsonSchemas,
  commandSchemaName,
  eventEnvelopeSchema,
  eventJsonSchema,
  eventSchemaName,
} from './jsonSchema.js';
import { parseWith } from './validation.js';

describe('JSON Schema export', () => {
  const schemas = allJsonSchemas({ idBase: 'https://pgfleet.dev/schemas/' });

  it('has a JSON Schema for every event type and every command, plus the reply', () => {
    for (const type of EVENT_TYPES) expect(schemas[eventSchemaName(type)]).toBeDefined();
    for (const [service, cmds] of Object.entries(COMMANDS)) {
      for (const command of Object.keys(cmds))
        expect(schemas[commandSchemaName(service, command)]?.type).toBe('object');
    }
    expect(schemas.CommandReply).toBeDefined();
    expect(Object.keys(schemas).length).toBe(
      EVENT_TYPES.length + Object.values(COMMANDS).flatMap((c) => Object.keys(c)).length + 2,
    );
  });

  it("an event's schema is the envelope with `type` fixed and `data` = the type's schema", () => {
    const s = eventJsonSchema('BackupRequested') as {
      $schema: string;
      properties: Record<string, { required?: string[] } & Record<string, unknown>>;
      required: string[];
    };
    expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(s.properties.type).toEqual({ type: 'string', const: 'BackupRequested' });
    expect(s.properties.data.required).toEqual(['backupId', 'clusterId', 'kind']);
    expect(s.required).toEqual(
      expect.arrayContaining(['id', 'streamId', 'streamVersion', 'correlationId', 'actor', 'type', 'data']),
    );
    expect(schemas['event.BackupRequested']?.$id).toBe('https://pgfleet.dev/schemas/event.BackupRequested.json');
  });

  it('a command field with a default is optional for the sender', () => {
    const s = schemas['command.provisioning.CreateCluster'] as {
      required: string[];
      properties: Record<string, { default?: unknown }>;
    };
    expect(s.required).toEqual(['name', 'plan']);
    expect(s.properties.version?.default).toBe(15);
  });
});

describe('event validation', () => {
  const envelope = {
    id: uuidv7(Date.parse('2025-01-01T00:00:00Z')),
    streamId: 'backups-c1',
    streamVersion: 1,
    globalPosition: '42',
    occurredAt: '2025-01-01T00:00:00.000Z',
    schemaVersion: 1,
    correlationId: 'corr-1',
    causationId: null,
    actor: { kind: 'user', id: 'alice' },
    type: 'BackupRequested',
    data: { backupId: 'b1', clusterId: 'c1', kind: 'manual' },
  } as const;

  it('a valid sample event parses, by type and as a whole envelope', () => {
    expect(validateEvent('BackupRequested', envelope.data)).toEqual({
      ok: true,
      value: { type: 'BackupRequested', data: envelope.data },
    });
    const parsed = parseWith(eventEnvelopeSchema('BackupRequested'), envelope, 'BackupRequested event');
    expect(parsed).toEqual({ ok: true, value: envelope });
  });

  it('a malformed event is rejected with a field-level message', () => {
    const bad = validateEvent('BackupRequested', { backupId: 'b1', clusterId: 'c 1', kind: 'manual' });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.rejection.code).toBe('INVALID_EVENT');
    expect(bad.rejection.details?.field).toBe('clusterId');
    expect(bad.rejection.message).toBe(
      'invalid BackupRequested event: clusterId: must be 1-64 letters, digits, "_" or "-"',
    );

    const wrongType = parseWith(
      eventEnvelopeSchema('BackupRequested'),
      { ...envelope, data: { ...envelope.data, kind: 'weekly' } },
      'BackupRequested event',
    );
    expect(wrongType.ok).toBe(false);
    if (!wrongType.ok) expect(wrongType.rejection.details?.field).toBe('data.kind');
  });
});
