import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseWith } from '@pgfleet/contracts';
import type { ClusterProjection, ClusterSummary } from './projection.js';
import { reject } from './rejections.js';
import { AccountQuery } from './schemas.js';

/** Who sent a command through the API, and the correlation id to carry (header or request id). */
export const requestMeta = (req: FastifyRequest) => ({
  actor: { kind: 'user' as const, id: 'api' },
  correlationId: String(req.headers['x-correlation-id'] ?? req.id),
});

/**
 * The cluster named in the path (`:name`, in `?accountId=`, default account), from the projection
 * brought up to date first; or undefined with the rejection already sent (bad query, no such cluster).
 */
export async function findCluster(projection: ClusterProjection, req: FastifyRequest, reply: FastifyReply, includeDeleted = false): Promise<ClusterSummary | undefined> {
  const q = parseWith(AccountQuery, req.query, 'query');
  if (!q.ok) return void reject(reply, q.rejection);
  await projection.catchUp();
  const name = (req.params as { name: string }).name;
  const row = projection.byName(name, q.value.accountId, includeDeleted);
  if (!row) void reject(reply, { code: 'CLUSTER_NOT_FOUND', message: `no cluster named ${name}`, details: { field: 'name' } });
  return row;
}
