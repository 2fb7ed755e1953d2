import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseWith } from '@pgfleet/contracts';
import type { ClusterProjection, ClusterSummary } from './projection.js';
import { idempotencyKeyOf } from './idempotency.js';
import { reject } from './rejections.js';
import { AccountQuery } from './schemas.js';

/**
 * Who sent a command through the API, the correlation id to carry (header or request id), and
 * the request's `Idempotency-Key` as the command id, so the services do the command once.
 */
export const requestMeta = (req: FastifyRequest) => {
  const key = idempotencyKeyOf(req);
  return {
    actor: { kind: 'user' as const, id: 'api' },
    correlationId: String(req.headers['x-correlation-id'] ?? req.id),
    ...(key ? { commandId: key } : {}),
  };
};

/**
 * The cluster named in the path (`:name`, in `?accountId=`, default account), from the projection
 * once it has caught up with every event committed before the request (read-your-writes); or
 * undefined with the rejection already sent (bad query, no such cluster).
 */
export async function findCluster(
  projection: ClusterProjection,
  req: FastifyRequest,
  reply: FastifyReply,
  includeDeleted = false,
): Promise<ClusterSummary | undefined> {
  const q = parseWith(AccountQuery, req.query, 'query');
  if (!q.ok) return void reject(reply, q.rejection);
  await projection.caughtUp();
  const name = (req.params as { name: string }).name;
  const row = projection.byName(name, q.value.accountId, includeDeleted);
  if (!row) {
    void reject(reply, { code: 'CLUSTER_NOT_FOUND', message: `no cluster named ${name}`, details: { field: 'name' } });
  }
  return row;
}
