import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { parseWith, streamIds, type Rejection } from '@pgfleet/contracts';
import type { EventStore } from '@pgfleet/eventstore';
import { entryPoint, foldGateways } from '@pgfleet/networking';
import type { ClusterProjection, ClusterSummary } from './projection.js';
import { AccountQuery } from './schemas.js';

export interface NetworkRoutesContext {
  projection: ClusterProjection;
  nc: NatsConnection;
  store: EventStore;
  home: string;
}

const STATUS: Record<string, number> = { VALIDATION_FAILED: 400, CLUSTER_NOT_FOUND: 404, NOT_READY: 409, CA_MISSING: 404, INTERNAL: 500 };
const reject = (reply: FastifyReply, r: Rejection) => reply.code(STATUS[r.code] ?? 400).send(r);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cluster CA certificate clients verify nodes against (`sslrootcert`). */
export const clusterCaFile = (home: string, clusterId: string) => join(home, 'clusters', clusterId, 'tls', 'ca.crt');

/**
 * The address of a cluster's gateway(s), as the networking service recorded it; waits up to
 * `waitMs` for it (a cluster that just became ready gets its gateway a moment later).
 */
export async function gatewayEndpoint(store: EventStore, clusterId: string, waitMs = 0): Promise<{ host: string; port: number } | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const state = foldGateways((await store.readStream(streamIds.gateway(clusterId))).events);
    const at = state.removed ? undefined : entryPoint(state);
    if (at || Date.now() >= deadline) return at;
    await sleep(100);
  }
}

/** The TLS parameters a client adds to the URL to verify the node behind the gateway. */
export function tlsParams(home: string, clusterId: string): { sslmode: 'verify-full'; sslrootcert: string } | undefined {
  const ca = clusterCaFile(home, clusterId);
  return existsSync(ca) ? { sslmode: 'verify-full', sslrootcert: ca } : undefined;
}

/** Networking routes: the cluster CA (`pgfleet cluster ca NAME`). */
export function registerNetworkRoutes(app: FastifyInstance, ctx: NetworkRoutesContext): void {
  const findCluster = (req: FastifyRequest, reply: FastifyReply): ClusterSummary | undefined => {
    const q = parseWith(AccountQuery, req.query, 'query');
    const name = (req.params as { name: string }).name;
    const row = q.ok ? ctx.projection.byName(name, q.value.accountId) : undefined;
    if (!row) void reject(reply, { code: 'CLUSTER_NOT_FOUND', message: `no cluster named ${name}`, details: { field: 'name' } });
    return row;
  };

  app.get('/v1/clusters/:name/ca', async (req, reply) => {
    await ctx.projection.catchUp();
    const row = findCluster(req, reply);
    if (!row) return;
    const path = clusterCaFile(ctx.home, row.clusterId);
    if (!existsSync(path)) return reject(reply, { code: 'CA_MISSING', message: `cluster ${row.name} has no CA yet (it is created with its first node)` });
    return { clusterId: row.clusterId, path, pem: readFileSync(path, 'utf8') };
  });
}
