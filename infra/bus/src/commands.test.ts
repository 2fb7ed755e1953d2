import { describe, expect, it } from 'vitest';
import { commandSchema } from '@pgfleet/contracts';
import { parseCommandBody } from './commands.js';

const schema = commandSchema('backup', 'SetBackupSchedule')!;
const body = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

describe('parseCommandBody', () => {
  it('returns the parsed data (with defaults) and meta', () => {
    expect(
      parseCommandBody(
        body({ data: { clusterId: 'c1', at: '03:30' }, meta: { commandId: 'k1' } }),
        'SetBackupSchedule',
        schema,
      ),
    ).toEqual({
      ok: true,
      data: { clusterId: 'c1', at: '03:30', tz: 'UTC' },
      meta: { commandId: 'k1' },
    });
  });

  it('names the offending field of data', () => {
    const parsed = parseCommandBody(body({ data: { clusterId: 'c1', at: '25:99' } }), 'SetBackupSchedule', schema);
    expect(parsed).toMatchObject({
      ok: false,
      reply: { ok: false, code: 'VALIDATION_FAILED', details: { field: 'at' } },
    });
    expect(!parsed.ok && !parsed.reply.ok && parsed.reply.message).toMatch(/^invalid SetBackupSchedule command: at: /);
  });

  it('refuses malformed JSON, a non-object body and an oversized commandId', () => {
    expect(parseCommandBody(body('nope'), 'SetBackupSchedule', schema)).toMatchObject({
      ok: false,
      reply: { code: 'MALFORMED_JSON' },
    });
    expect(parseCommandBody(body([1]), 'SetBackupSchedule', schema)).toMatchObject({
      ok: false,
      reply: { code: 'VALIDATION_FAILED', details: { field: 'data' } },
    });
    const long = parseCommandBody(
      body({ data: { clusterId: 'c1', at: '03:30' }, meta: { commandId: 'x'.repeat(200) } }),
      'SetBackupSchedule',
      schema,
    );
    expect(long).toMatchObject({
      ok: false,
      reply: { code: 'VALIDATION_FAILED', details: { field: 'meta.commandId' } },
    });
  });

  it('refuses `meta: null` instead of reading it as no meta (the hostile input suite sent it)', () => {
    const parsed = parseCommandBody(body({ data: { clusterId: 'c1', at: '03:30' }, meta: null }), 'X', schema);
    expect(parsed).toMatchObject({ ok: false, reply: { code: 'VALIDATION_FAILED', details: { field: 'meta' } } });
  });
});
