import { idempotencyKeyHeader, operationAccepted } from './operationOpenapi.js';
import { PitrRestoreBody } from './pitrRestoreRoutes.js';
import { json, error } from './openapiParts.js';

/** The OpenAPI path of `pitr restore` (see pitrRestoreRoutes.ts). */
export function pitrRestorePaths(): Record<string, unknown> {
  return {
    '/v1/clusters/{name}/pitr/restore': {
      post: {
        summary:
          'Restore the cluster as it was at `to` (ISO 8601 with an offset): into a new cluster of the same plan ' +
          '(`into`, default `{name}-restored-{time}`; the original keeps running), or `inPlace` (its writes ' +
          'fenced, followers re-cloned, the recoverable window restarts). The `pitr-restore` operation runs it.',
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }, idempotencyKeyHeader],
        requestBody: { required: true, content: json(PitrRestoreBody) },
        responses: {
          ...operationAccepted,
          400: error(
            'a time without an offset, outside the recoverable window (PITR_TARGET_OUTSIDE_WINDOW, the message ' +
              'names the window) or before its restart (PITR_TARGET_BEFORE_RESTART)',
          ),
          409: error(
            'no PITR in the plan (PITR_NOT_IN_PLAN), a full backup running (PITR_BACKUP_IN_PROGRESS, in place), ' +
              'or another operation in progress (OPERATION_IN_PROGRESS)',
          ),
          401: error('missing or wrong token'),
          404: error('no such cluster'),
        },
      },
    },
  };
}
