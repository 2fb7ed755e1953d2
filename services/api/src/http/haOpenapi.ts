import { z } from 'zod';
import { CommandReply, Durability } from '@pgfleet/contracts';
import { idempotencyKeyHeader, operationAccepted } from './operationOpenapi.js';
import { DurabilityBody, FailoverBody } from './schemas.js';
import { json, error } from './openapiParts.js';

const errors = { 400: error('invalid input'), 401: error('missing or wrong token'), 404: error('no such cluster') };
const idempotent = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }, idempotencyKeyHeader];
const DurabilitySet = z.object({
  ok: z.literal(true),
  streamId: z.string(),
  version: z.number().int(),
  clusterId: z.string(),
  name: z.string(),
  durability: Durability,
  result: z.record(z.string(), z.unknown()).optional(),
});

/** The OpenAPI paths of the high-availability routes (see haRoutes.ts), answered by the `ha` service. */
export function haPaths(): Record<string, unknown> {
  return {
    '/v1/clusters/{name}/failover': {
      post: {
        summary:
          'Promote a follower of a cluster whose leader is lost (an operation; default: the most advanced ' +
          'follower), after fencing the old leader; the gateways then forward to the new leader. With durability ' +
          '`available`, a follower that may miss acknowledged commits is promoted only with `acceptDataLoss`',
        parameters: idempotent,
        requestBody: { content: json(FailoverBody) },
        responses: {
          ...operationAccepted,
          200: { description: 'done (a service without operations)', content: json(CommandReply) },
          ...errors,
          409: error(
            'the leader answers as a primary (LEADER_ALIVE: use switchover), the cluster is not ready ' +
              '(CLUSTER_NOT_READY) or has no follower (NO_FOLLOWER), another operation is in progress ' +
              '(OPERATION_IN_PROGRESS), or the Idempotency-Key was used for another request (IDEMPOTENCY_KEY_REUSED)',
          ),
          503: error('the ha service is not answering (SERVICE_UNAVAILABLE)'),
        },
      },
    },
    '/v1/clusters/{name}/durability': {
      put: {
        summary:
          'Set what the leader does when no follower acknowledges commits: `strict` waits (writes block until a ' +
          'follower is back), `available` goes asynchronous (SyncReplicationDegraded) until one is back',
        parameters: idempotent,
        requestBody: { required: true, content: json(DurabilityBody) },
        responses: {
          200: { description: 'the new setting', content: json(DurabilitySet) },
          ...errors,
          409: error('the Idempotency-Key was used for another request (IDEMPOTENCY_KEY_REUSED)'),
          503: error('the ha service is not answering (SERVICE_UNAVAILABLE)'),
        },
      },
    },
  };
}
