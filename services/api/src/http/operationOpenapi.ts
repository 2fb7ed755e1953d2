import { z } from 'zod';
import { OperationAccepted, OperationShown } from './operationRoutes.js';
import { json, error } from './openapiParts.js';

/** The `Idempotency-Key` header every POST, PUT and DELETE takes. */
export const idempotencyKeyHeader = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'A key of your choice (e.g. a UUID), one per action: it becomes the command id, so sending the same request ' +
    'again does the action once and answers what the first answered; the same key with another request is ' +
    'refused (409 IDEMPOTENCY_KEY_REUSED). Keys are kept a day.',
  schema: { type: 'string', minLength: 1, maxLength: 120 },
};

/** The 202 of a long action (switchover, restore, TLS, certificates, expose, unexpose, retry, delete). */
export const operationAccepted = {
  202: {
    description:
      'accepted: the operation runs; follow it with GET /v1/operations/{operationId} or its events ' +
      '(pgfleet.events.cluster.{streamId}.*)',
    content: json(OperationAccepted),
  },
  409: error(
    'another operation is in progress on the cluster (OPERATION_IN_PROGRESS, details name it), ' +
      'or the Idempotency-Key was used for another request (IDEMPOTENCY_KEY_REUSED)',
  ),
};

/** The OpenAPI paths of the operation routes (see operationRoutes.ts). */
export function operationPaths(): Record<string, unknown> {
  const errors = { 400: error('invalid input'), 401: error('missing or wrong token') };
  return {
    '/v1/operations/{id}': {
      get: {
        summary: 'One operation: kind, status, cluster, steps with their times, result, error',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          200: { description: 'the operation', content: json(OperationShown) },
          ...errors,
          404: error('no such operation'),
        },
      },
    },
    '/v1/clusters/{name}/operations': {
      get: {
        summary: "A cluster's operations, oldest first",
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          200: {
            description: 'operations',
            content: json(z.object({ clusterId: z.string(), name: z.string(), operations: z.array(OperationShown) })),
          },
          ...errors,
          404: error('no such cluster'),
        },
      },
    },
  };
}
