import { CommandReply } from '@pgfleet/contracts';
import { idempotencyKeyHeader } from './operationOpenapi.js';
import { PitrStatus } from './pitrStatus.js';
import { json, error } from './openapiParts.js';

const errors = { 401: error('missing or wrong token'), 404: error('no such cluster') };
const nameParam = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }];

/** The OpenAPI paths of `pitr status` and `pitr backup` (see pitrRoutes.ts). */
export function pitrPaths(): Record<string, unknown> {
  return {
    '/v1/clusters/{name}/pitr': {
      get: {
        summary:
          'The recoverable window [earliest, latest] (end of the oldest kept full backup, last archived WAL), ' +
          'the archiving lag, the last and next full backups',
        parameters: nameParam,
        responses: {
          200: { description: 'PITR status', content: json(PitrStatus) },
          ...errors,
          409: error('the plan has no point-in-time recovery (PITR_NOT_IN_PLAN)'),
        },
      },
    },
    '/v1/clusters/{name}/pitr/backup': {
      post: {
        summary: 'Take a PITR full backup now (pgBackRest; from a follower on Business)',
        parameters: [...nameParam, idempotencyKeyHeader],
        responses: {
          202: { description: 'accepted; `backupId` names the full backup', content: json(CommandReply) },
          ...errors,
          409: error('no PITR in the plan, archiving not enabled yet, or a full backup already running'),
        },
      },
    },
  };
}
