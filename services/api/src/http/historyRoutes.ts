import type { FastifyInstance } from 'fastify';
import { parseWith } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { findCluster } from './clusterLookup.js';
import { foldClusterHistory, readClusterHistory } from './clusterHistory.js';
import type { ClusterProjection } from './projection.js';
import { reject } from './rejections.js';
import { AuditQuery } from './schemas.js';

/**
 * `GET /v1/clusters/{name}/audit[?at=TIME][&type=T1,T2]`: every event about the cluster from all
 * its streams in global order (only those types with `type`), and the cluster at `at` (default
 * now) folded from all of them: nodes and leader, gateways and TLS, backups available.
 */
export function registerHistoryRoutes(
  app: FastifyInstance,
  ctx: { projection: ClusterProjection; store: EventStore },
): void {
  app.get('/v1/clusters/:name/audit', async (req, reply) => {
    const q = parseWith(AuditQuery, req.query, 'query');
    if (!q.ok) return reject(reply, q.rejection);
    const row = await findCluster(ctx.projection, req, reply, true);
    if (!row) return;
    const until = q.value.at ? new Date(q.value.at) : undefined;
    const history = await readClusterHistory(ctx.store, row.clusterId, until);
    const types = q.value.type ? new Set(q.value.type.split(',')) : undefined;
    const events = types ? history.filter((e) => types.has(e.type)) : history;
    const state = foldClusterHistory(history);
    return { clusterId: row.clusterId, name: row.name, at: q.value.at ?? null, state, events };
  });
}
