import { describe, expect, it } from 'vitest';
import { parseWith } from '@pgfleet/contracts';
import { RestoreBody, ScheduleBody } from './backupSchemas.js';
import { openApiDocument } from './openapi.js';

type Schema = { properties: Record<string, unknown>; required?: string[] };
type Operation = { requestBody?: { content: { 'application/json': { schema: Schema } } } };
type Doc = { paths: Record<string, Record<string, Operation>> };

describe('backup routes in the OpenAPI document and their bodies', () => {
  it('documents every backup route, with the schedule and restore bodies generated from zod', () => {
    const doc = openApiDocument() as Doc;
    expect(
      Object.keys(doc.paths)
        .filter((p) => p.includes('/backups'))
        .sort(),
    ).toEqual([
      '/v1/clusters/{name}/backups',
      '/v1/clusters/{name}/backups/schedule',
      '/v1/clusters/{name}/backups/{id}',
      '/v1/clusters/{name}/backups/{id}/download',
      '/v1/clusters/{name}/backups/{id}/restore',
    ]);
    const body = (path: string, method: string) =>
      doc.paths[path]![method]!.requestBody!.content['application/json'].schema;
    const schedule = body('/v1/clusters/{name}/backups/schedule', 'put');
    expect(Object.keys(schedule.properties).sort()).toEqual(['at', 'tz']);
    expect(schedule.required).toEqual(['at']);
    const restore = body('/v1/clusters/{name}/backups/{id}/restore', 'post');
    expect(Object.keys(restore.properties)).toEqual(['into']);
  });

  it('rejects a bad time or cluster name with a field-level, one-sentence message', () => {
    const at = parseWith(ScheduleBody, { at: '24:00' }, 'schedule');
    expect(at.ok ? undefined : at.rejection).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: 'invalid schedule: at: must be HH:MM (24-hour)',
      details: { field: 'at' },
    });
    const into = parseWith(RestoreBody, { into: 'Bad_Name' }, 'restore');
    expect(into.ok ? undefined : into.rejection).toMatchObject({ details: { field: 'into' } });
    const valid = parseWith(ScheduleBody, { at: '03:30' }, 'schedule');
    expect(valid).toEqual({ ok: true, value: { at: '03:30', tz: 'UTC' } });
  });
});
