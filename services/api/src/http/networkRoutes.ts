import type { FastifyInstance } from 'fastify';
import { reject } from './rejections.js';
import { findCluster, requestMeta } from './clusterLookup.js';
import { existsSync, readFileSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { entryPoints, foldGateways, Id, parseWith, readOnlyEntryPoints, streamIds } from '@pgfleet/contracts';
import { sendCommand } from '@pgfleet/bus';
import type { EventStore } from '@pgfleet/eventstore';
import { clusterCaFiles, clusterTlsDir } from '@pgfleet/postgres';
import { acceptedOperation } from './operationRoutes.js';
import type { ClusterProjection } from './projection.js';

export interface NetworkRoutesContext {
  projection: ClusterProjection;
  nc: NatsConnection;
  store: EventStore;
  home: string;
}

const SwitchoverBody = z.object({ to: Id.optional() }).strict();
const CertsBody = z.object({ rotate: z.literal(true, { error: 'only {"rotate": true} is supported' }) }).strict();
const TlsBody = z
  .object({ force: z.literal(true, { error: 'only {"force": true} is supported: TLS cannot be un-forced' }) })
  .strict();
/** A switchover stops, promotes and restarts servers: allow it time. */
const SWITCHOVER_TIMEOUT_MS = 180_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cluster CA certificate clients verify nodes against (`sslrootcert`), where infra/postgres keeps it. */
const clusterCaFile = (home: string, clusterId: string) => clusterCaFiles(clusterTlsDir(home, clusterId)).certFile;

/**
 * The addresses of a cluster's gateway(s), as the networking service recorded them: one when they
 * share it, one per gateway when they run on distinct hosts. Waits up to `waitMs` for them (a
 * cluster that just became ready gets its gateways a moment later). `readonly`: the read-only
 * endpoint instead (the followers, round robin), recorded as each gateway's `readOnlyPort`;
 * gateways recorded before it existed get one at their next reconciliation.
 */
export async function gatewayEndpoints(
  store: EventStore,
  clusterId: string,
  waitMs = 0,
  gateways = 1,
  readonly = false,
): Promise<{ host: string; port: number }[] | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const state = foldGateways((await store.readStream(streamIds.gateway(clusterId))).events);
    // The entry point is ready once every gateway of the plan serves it (two for Business).
    const serving = readonly ? state.gateways.filter((g) => g.readOnlyPort !== undefined) : state.gateways;
    const at =
      state.removed || serving.length < gateways ? [] : readonly ? readOnlyEntryPoints(state) : entryPoints(state);
    if (at.length > 0) return at;
    if (Date.now() >= deadline) return undefined;
    await sleep(100);
  }
}

/**
 * A cluster's URL: `host:port`, or every gateway's address when they run on distinct hosts (libpq
 * tries them in turn: a gateway whose host is down is passed over), the writes' URL then asking
 * for the session that takes writes (`target_session_attrs=read-write`).
 */
export function clusterUrl(
  c: { user: string; password: string; database: string },
  at: readonly { host: string; port: number }[],
  readonly: boolean,
): string {
  const hosts = at.map((a) => `${a.host}:${a.port}`).join(',');
  const attrs = at.length > 1 && !readonly ? '?target_session_attrs=read-write' : '';
  return `postgresql://${c.user}:${encodeURIComponent(c.password)}@${hosts}/${c.database}${attrs}`;
}

/** The TLS parameters a client adds to the URL to verify the node behind the gateway. */
export function tlsParams(
  home: string,
  clusterId: string,
): { sslmode: 'verify-full'; sslrootcert: string } | undefined {
  const ca = clusterCaFile(home, clusterId);
  return existsSync(ca) ? { sslmode: 'verify-full', sslrootcert: ca } : undefined;
}

/**
 * Networking routes: the cluster CA (`pgfleet cluster ca NAME`), switchover (`pgfleet cluster
 * switchover NAME [--to NODE]`), forced TLS, certificate rotation, expose and unexpose.
 */
export function registerNetworkRoutes(app: FastifyInstance, ctx: NetworkRoutesContext): void {
  app.get('/v1/clusters/:name/ca', async (req, reply) => {
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const path = clusterCaFile(ctx.home, row.clusterId);
    if (!existsSync(path)) {
      const message = `cluster ${row.name} has no CA yet (it is created with its first node)`;
      return reject(reply, { code: 'CA_MISSING', message });
    }
    return { clusterId: row.clusterId, path, pem: readFileSync(path, 'utf8') };
  });

  app.post('/v1/clusters/:name/switchover', async (req, reply) => {
    const body = parseWith(SwitchoverBody, req.body ?? {}, 'switchover');
    if (!body.ok) return reject(reply, body.rejection);
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const meta = requestMeta(req);
    const data = { clusterId: row.clusterId, ...body.value };
    const res = await sendCommand(ctx.nc, 'provisioning', 'SwitchoverCluster', data, meta, {
      timeoutMs: SWITCHOVER_TIMEOUT_MS,
    });
    if (!res.ok) return reject(reply, res);
    // An operation: 202 now; the CLI follows it, and the gateways, on the event stream.
    if (acceptedOperation(reply, res, { clusterId: row.clusterId })) return reply;
    // Done when the gateways forward to the new leader (the networking service follows LeaderChanged).
    const to = String(res.result?.to);
    const deadline = Date.now() + 30_000;
    let gatewayLeader: string | undefined;
    while (Date.now() < deadline) {
      gatewayLeader = foldGateways((await ctx.store.readStream(streamIds.gateway(row.clusterId))).events).leader;
      if (gatewayLeader === to) break;
      await sleep(100);
    }
    return { ...res, clusterId: row.clusterId, gatewayLeader: gatewayLeader ?? null };
  });

  app.post('/v1/clusters/:name/tls', async (req, reply) => {
    const body = parseWith(TlsBody, req.body ?? {}, 'tls');
    if (!body.ok) return reject(reply, body.rejection);
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const meta = requestMeta(req);
    const data = { clusterId: row.clusterId };
    const res = await sendCommand(ctx.nc, 'networking', 'ForceTls', data, meta, { timeoutMs: 60_000 });
    if (!res.ok) return reject(reply, res);
    if (acceptedOperation(reply, res, { clusterId: row.clusterId })) return reply;
    return { ...res, clusterId: row.clusterId };
  });

  app.post('/v1/clusters/:name/certs', async (req, reply) => {
    const body = parseWith(CertsBody, req.body ?? {}, 'certs');
    if (!body.ok) return reject(reply, body.rejection);
    const row = await findCluster(ctx.projection, req, reply);
    if (!row) return;
    const meta = requestMeta(req);
    const data = { clusterId: row.clusterId };
    const res = await sendCommand(ctx.nc, 'networking', 'RotateCertificates', data, meta, { timeoutMs: 60_000 });
    if (!res.ok) return reject(reply, res);
    if (acceptedOperation(reply, res, { clusterId: row.clusterId })) return reply;
    return { ...res, clusterId: row.clusterId };
  });

  for (const [path, command] of [
    ['expose', 'ExposeCluster'],
    ['unexpose', 'UnexposeCluster'],
  ] as const) {
    app.post(`/v1/clusters/:name/${path}`, async (req, reply) => {
      const row = await findCluster(ctx.projection, req, reply);
      if (!row) return;
      const meta = requestMeta(req);
      const data = { clusterId: row.clusterId };
      const res = await sendCommand(ctx.nc, 'networking', command, data, meta, { timeoutMs: 60_000 });
      if (!res.ok) return reject(reply, res);
      if (acceptedOperation(reply, res, { clusterId: row.clusterId })) return reply;
      return { ...res, clusterId: row.clusterId };
    });
  }
}
