import { z } from 'zod';
import { CommandReply } from '@pgfleet/contracts';
import { ErrorBody } from './schemas.js';

const json = (schema: z.ZodType) => ({ 'application/json': { schema: z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) } });
const error = (description: string) => ({ description, content: json(ErrorBody) });
const errors = { 400: error('invalid input'), 401: error('missing or wrong token'), 404: error('no such cluster') };
const nameParam = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }];

/** The OpenAPI paths of the networking routes (see networkRoutes.ts). */
export function networkPaths(): Record<string, unknown> {
  return {
    '/v1/clusters/{name}/ca': {
      get: { summary: "The cluster's CA certificate (PEM): the sslrootcert for sslmode=verify-full", parameters: nameParam,
        responses: { 200: { description: 'CA', content: json(z.object({ clusterId: z.string(), path: z.string(), pem: z.string() })) }, ...errors } },
    },
    '/v1/clusters/{name}/switchover': {
      post: { summary: 'Hand leadership to a follower (default: the first); replies once the gateways forward to it', parameters: nameParam,
        requestBody: { content: json(z.object({ to: z.string().optional() })) },
        responses: { 200: { description: 'done; `result` has from, to, timeline; `gatewayLeader` the node the gateways forward to', content: json(CommandReply) }, ...errors,
          409: error('not ready, one-node plan (NO_FOLLOWER) or already the leader (ALREADY_LEADER)') } },
    },
    '/v1/clusters/{name}/tls': {
      post: { summary: 'Force TLS: every node accepts only hostssl; plaintext connections are refused', parameters: nameParam,
        requestBody: { content: json(z.object({ force: z.literal(true) })) },
        responses: { 200: { description: 'forced (or already forced: `result.changed` false)', content: json(CommandReply) }, ...errors } },
    },
    '/v1/clusters/{name}/certs': {
      post: { summary: 'Rotate the node certificates (same CA): loaded with a reload, no downtime', parameters: nameParam,
        requestBody: { content: json(z.object({ rotate: z.literal(true) })) },
        responses: { 200: { description: 'rotated: `result` has nodes and notAfter', content: json(CommandReply) }, ...errors } },
    },
  };
}
