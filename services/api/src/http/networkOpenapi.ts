import { z } from 'zod';
import { CommandReply } from '@pgfleet/contracts';
import { idempotencyKeyHeader, operationAccepted } from './operationOpenapi.js';
import { json, error } from './openapiParts.js';

const errors = { 400: error('invalid input'), 401: error('missing or wrong token'), 404: error('no such cluster') };
const nameParam = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }];
const idempotent = [...nameParam, idempotencyKeyHeader];
/** Services that still answer when done (no operation) get the final result back with 200. */
const done = (description: string) => ({
  description: `done (services without operations): ${description}`,
  content: json(CommandReply),
});
const CaShown = z.object({ clusterId: z.string(), path: z.string(), pem: z.string() });

/** The OpenAPI paths of the networking routes (see networkRoutes.ts). */
export function networkPaths(): Record<string, unknown> {
  return {
    '/v1/clusters/{name}/ca': {
      get: {
        summary: "The cluster's CA certificate (PEM): the sslrootcert for sslmode=verify-full",
        parameters: nameParam,
        responses: { 200: { description: 'CA', content: json(CaShown) }, ...errors },
      },
    },
    '/v1/clusters/{name}/switchover': {
      post: {
        summary:
          'Hand leadership to a follower (default: the first): an operation whose result has from, to, timeline; ' +
          'the gateways then forward to the new leader (GatewayLeaderSet on the gateway stream)',
        parameters: idempotent,
        requestBody: { content: json(z.object({ to: z.string().optional() })) },
        responses: {
          ...operationAccepted,
          200: done('`result` has from, to, timeline; `gatewayLeader` the node the gateways forward to'),
          ...errors,
          409: error(
            'not ready, one-node plan (NO_FOLLOWER), already the leader (ALREADY_LEADER) or another operation ' +
              'in progress (OPERATION_IN_PROGRESS)',
          ),
        },
      },
    },
    '/v1/clusters/{name}/tls': {
      post: {
        summary: 'Force TLS (an operation): every node accepts only hostssl; plaintext connections are refused',
        parameters: idempotent,
        requestBody: { content: json(z.object({ force: z.literal(true) })) },
        responses: {
          ...operationAccepted,
          200: done('forced (or already forced: `result.changed` false)'),
          ...errors,
        },
      },
    },
    '/v1/clusters/{name}/certs': {
      post: {
        summary: 'Rotate the node certificates (an operation; same CA): loaded with a reload, no downtime',
        parameters: idempotent,
        requestBody: { content: json(z.object({ rotate: z.literal(true) })) },
        responses: {
          ...operationAccepted,
          200: done('rotated: `result` has nodes and notAfter'),
          ...errors,
        },
      },
    },
    '/v1/clusters/{name}/expose': {
      post: {
        summary: 'Open the cluster to the outside (an operation; needs forced TLS): `result` has address and port',
        parameters: idempotent,
        responses: { ...operationAccepted, 200: done('exposed'), ...errors },
      },
    },
    '/v1/clusters/{name}/unexpose': {
      post: {
        summary: 'Close the cluster to the outside (an operation): the gateways listen on loopback only',
        parameters: idempotent,
        responses: { ...operationAccepted, 200: done('unexposed'), ...errors },
      },
    },
  };
}
