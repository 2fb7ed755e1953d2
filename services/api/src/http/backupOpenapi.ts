import { z } from 'zod';
import { CommandReply } from '@pgfleet/contracts';
import { BackupRow, RestoreBody, ScheduleBody } from './backupSchemas.js';
import { idempotencyKeyHeader, operationAccepted } from './operationOpenapi.js';
import { json, error } from './openapiParts.js';

const errors = {
  400: error('invalid input'),
  401: error('missing or wrong token'),
  404: error('no such cluster or backup'),
};
const params = [
  { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
  { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
];
const nameParam = params.slice(0, 1);
const allParam = {
  name: 'all',
  in: 'query',
  description: 'true: also the evicted, expired, deleted and failed backups (default: the available ones)',
  schema: { type: 'string', enum: ['true', 'false'] },
};
const waitParam = {
  name: 'wait',
  in: 'query',
  description: 'seconds (0-60): answer once the backup ended or after that long, whichever is first (a long poll)',
  schema: { type: 'integer', minimum: 0, maximum: 60 },
};
const BackupShown = BackupRow.extend({
  clusterId: z.string(),
  progress: z.object({ bytes: z.number(), startedAt: z.number() }).nullable(),
});
const BackupList = z.object({
  clusterId: z.string(),
  name: z.string(),
  /** A deleted cluster: its backups are kept until then (BackupsRetained), then expire. */
  retainedUntil: z.string().nullable(),
  backups: z.array(BackupRow),
});
const file = {
  description: 'the file',
  headers: { 'x-backup-sha256': { schema: { type: 'string' } } },
  content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
};

/** The OpenAPI paths of the backup routes (see backupRoutes.ts). */
export function backupPaths(): Record<string, unknown> {
  return {
    '/v1/clusters/{name}/backups': {
      post: {
        summary: 'Request an on-demand backup (pg_dump on a follower for Business, on the leader otherwise)',
        parameters: [...nameParam, idempotencyKeyHeader],
        responses: {
          202: { description: 'accepted; `backupId` names the backup', content: json(CommandReply) },
          ...errors,
          409: error('the plan has no backups (BACKUPS_NOT_IN_PLAN) or the cluster is not ready'),
          429: error('daily on-demand limit reached (QUOTA_EXCEEDED)'),
        },
      },
      get: {
        summary: "A cluster's available backups (completed, running, requested); with all=true every backup",
        parameters: [...nameParam, allParam],
        responses: { 200: { description: 'backups', content: json(BackupList) }, ...errors },
      },
    },
    '/v1/clusters/{name}/backups/{id}': {
      get: {
        summary: 'One backup, with the bytes written so far while it runs; with wait, once it ended',
        parameters: [...params, waitParam],
        responses: { 200: { description: 'backup', content: json(BackupShown) }, ...errors },
      },
    },
    '/v1/clusters/{name}/backups/{id}/download': {
      get: {
        summary: 'The backup file (pg_dump custom format); its sha256 is in the x-backup-sha256 header',
        parameters: params,
        responses: {
          200: file,
          ...errors,
          409: error('the backup is not completed'),
        },
      },
    },
    '/v1/clusters/{name}/backups/{id}/restore': {
      post: {
        summary:
          'Restore a backup in place, or with `into` into a new cluster of the same plan (created, then restored): ' +
          'an operation on the target cluster',
        parameters: [...params, idempotencyKeyHeader],
        requestBody: { required: false, content: json(RestoreBody) },
        responses: {
          ...operationAccepted,
          200: { description: 'restored (services without operations)' },
          ...errors,
          409: error('backup not completed, cluster not ready or name taken'),
          500: error('the file does not match its sha256 or pg_restore failed'),
        },
      },
    },
    '/v1/clusters/{name}/backups/schedule': {
      put: {
        summary: 'Set the daily backup time (HH:MM in a time zone, default UTC)',
        parameters: [...nameParam, idempotencyKeyHeader],
        requestBody: { required: true, content: json(ScheduleBody) },
        responses: { 200: { description: 'set', content: json(CommandReply) }, ...errors },
      },
    },
  };
}
