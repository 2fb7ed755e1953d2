import Fastify from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { join } from 'node:path';
import {
  findPlan,
  foldClusterView,
  foldDisk,
  foldGateways,
  parseWith,
  querySubject,
  streamIds,
} from '@pgfleet/contracts';
import { sendCommand } from '@pgfleet/bus';
import type { EventStore } from '@pgfleet/eventstore';
import { openSecretStore } from '@pgfleet/postgres';
import { AccountDirectory } from '../accounts/accountDirectory.js';
import { registerAccountRoutes } from './accountRoutes.js';
import { registerAuthentication } from './authentication.js';
import { registerBackupRoutes } from './backupRoutes.js';
import { registerBillingRoutes } from './billingRoutes.js';
import { type LiveNode, showCluster } from './clusterShown.js';
import { clusterUrl, gatewayEndpoints, registerNetworkRoutes, tlsParams } from './networkRoutes.js';
import { openApiDocument } from './openapi.js';
import { reject } from './rejections.js';
import { registerJsonBody } from './jsonBody.js';
import { registerRequestErrors, requestErrorOptions } from './requestErrors.js';
import { findCluster, requestAccount, requestMeta } from './clusterLookup.js';
import { registerHaRoutes } from './haRoutes.js';
import { registerHistoryRoutes } from './historyRoutes.js';
import { IdempotencyRecords, registerIdempotency } from './idempotency.js';
import { acceptedOperation, registerOperationRoutes } from './operationRoutes.js';
import { ClusterProjection } from './projection.js';
import { registerPitrRestoreRoutes } from './pitrRestoreRoutes.js';
import { registerPitrRoutes } from './pitrRoutes.js';
import { registerExtensionRoutes } from './extensionRoutes.js';
import { registerMaintenanceRoutes } from './maintenanceRoutes.js';
import { registerUpgradeRoutes } from './upgradeRoutes.js';
import { registerPlanRoutes } from './planRoutes.js';
import { callerOf } from './authentication.js';
import { scopeAccount } from './callerScope.js';
import { CreateClusterBody } from './schemas.js';

export interface ApiServerOptions {
  port: number;
  host?: string;
  /** The admin token (`$PGFLEET_HOME/api-token`): acts on any account. Account tokens are checked on their streams. */
  token: string;
  store: EventStore;
  nc: NatsConnection;
  home: string;
}

/** At shutdown, requests still running after this are cut (their operations go on in the services). */
const CLOSE_GRACE_MS = 3000;

/** What each node's PostgreSQL says now (the provisioning service asks them), or why it is not known. */
async function liveNodes(nc: NatsConnection, clusterId: string): Promise<LiveNode[] | { error: string }> {
  const query = JSON.stringify({ clusterId });
  try {
    const m = await nc.request(querySubject('provisioning', 'ClusterStatus'), query, { timeout: 5000 });
    const answer = m.json() as { nodes?: LiveNode[]; error?: unknown };
    if (Array.isArray(answer.nodes)) return answer.nodes;
    return { error: `node status unavailable: ${String(answer.error ?? 'no nodes in the answer')}` };
  } catch (e) {
    return { error: `node status unavailable: ${String(e)}` };
  }
}

/** The HTTP API: validates with zod at the boundary, sends commands over NATS, reads projections. */
export async function startApiServer(opts: ApiServerOptions) {
  const projection = new ClusterProjection(opts.store);
  await projection.start();
  const directory = new AccountDirectory(opts.store);
  try {
    await directory.start();
  } catch (error) {
    await projection.stop();
    throw error;
  }
  const secrets = openSecretStore(opts.home);
  const app = Fastify({ logger: false, bodyLimit: 1 << 20, ...requestErrorOptions });
  registerRequestErrors(app);
  registerJsonBody(app);

  registerAuthentication(app, { adminToken: opts.token, directory });

  registerIdempotency(app, new IdempotencyRecords(join(opts.home, 'api', 'idempotency.jsonl')));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/openapi.json', async () => openApiDocument());

  app.get('/v1/clusters', async (req, reply) => {
    const accountId = requestAccount(req, reply);
    if (accountId === undefined) return;
    await projection.caughtUp();
    return { clusters: projection.list(accountId) };
  });

  app.post('/v1/clusters', async (req, reply) => {
    const body = parseWith(CreateClusterBody, req.body ?? {}, 'cluster');
    if (!body.ok) return reject(reply, body.rejection);
    const account = scopeAccount(callerOf(req), body.value.accountId);
    if (!account.ok) return reject(reply, account.rejection);
    const data = { ...body.value, accountId: account.accountId };
    const res = await sendCommand(opts.nc, 'provisioning', 'CreateCluster', data, requestMeta(req));
    if (!res.ok) return reject(reply, res);
    return reply.code(202).send(res);
  });

  app.get('/v1/clusters/:name', async (req, reply) => {
    const row = await findCluster(projection, req, reply);
    if (!row) return;
    const view = projection.viewOf(row.clusterId);
    if (!view) return reject(reply, { code: 'CLUSTER_NOT_FOUND', message: `no cluster named ${row.name}` });
    const [live, disk, gateways] = await Promise.all([
      liveNodes(opts.nc, row.clusterId),
      opts.store.readStream(streamIds.disk(row.clusterId)),
      opts.store.readStream(streamIds.gateway(row.clusterId)),
    ]);
    return showCluster(row, view, live, foldDisk(disk.events), foldGateways(gateways.events));
  });

  app.get('/v1/clusters/:name/url', async (req, reply) => {
    // `?readonly=true`: the read-only endpoint (the followers, round robin) instead of the leader's.
    const readonlyParam = (req.query as { readonly?: unknown } | undefined)?.readonly;
    if (readonlyParam !== undefined && readonlyParam !== 'true' && readonlyParam !== 'false') {
      const message = 'readonly must be true or false';
      return reject(reply, { code: 'VALIDATION_FAILED', message, details: { field: 'readonly' } });
    }
    const readonly = readonlyParam === 'true';
    const row = await findCluster(projection, req, reply);
    if (!row) return;
    const { events } = await opts.store.readStream(streamIds.cluster(row.clusterId));
    const state = foldClusterView(events);
    const ready = events.findLast((e) => e.type === 'ClusterReady');
    if (state.status !== 'ready' || ready?.type !== 'ClusterReady' || !state.secretRef) {
      return reject(reply, { code: 'NOT_READY', message: `cluster ${row.name} is ${state.status}, not ready` });
    }
    const password = await secrets.get(state.secretRef);
    if (password === undefined) {
      const message = `the password of cluster ${row.name} is missing from the secret store`;
      return reject(reply, { code: 'INTERNAL', message });
    }
    if (readonly && state.nodes.length < 2) {
      const message = `cluster ${row.name} has no follower to read from: its plan runs one node`;
      return reject(reply, { code: 'NO_FOLLOWER', message });
    }
    const gateways = findPlan(row.plan)?.gateways ?? 1;
    const at = await gatewayEndpoints(opts.store, row.clusterId, 30_000, gateways, readonly);
    const gw = at?.[0];
    if (!at || !gw) {
      const what = readonly ? 'read-only endpoint' : 'gateway';
      return reject(reply, { code: 'NOT_READY', message: `the ${what} of cluster ${row.name} is not started yet` });
    }
    const { user, database } = ready.data;
    const url = clusterUrl({ user, password, database }, at, readonly);
    const tls = tlsParams(opts.home, row.clusterId);
    // host and port: the first gateway's; hosts: every address the URL names (one per host the gateways run on).
    return { url, host: gw.host, port: gw.port, hosts: at, database, user, tls, readonly };
  });

  app.delete('/v1/clusters/:name', async (req, reply) => {
    const row = await findCluster(projection, req, reply);
    if (!row) return;
    const data = { clusterId: row.clusterId };
    const res = await sendCommand(opts.nc, 'provisioning', 'DeleteCluster', data, requestMeta(req));
    if (!res.ok) return reject(reply, res);
    if (acceptedOperation(reply, res, { clusterId: row.clusterId })) return reply;
    return reply.code(202).send({ ...res, clusterId: row.clusterId });
  });

  app.post('/v1/clusters/:name/retry', async (req, reply) => {
    const row = await findCluster(projection, req, reply);
    if (!row) return;
    const data = { clusterId: row.clusterId };
    const res = await sendCommand(opts.nc, 'provisioning', 'RetryCluster', data, requestMeta(req));
    if (!res.ok) return reject(reply, res);
    if (acceptedOperation(reply, res, { clusterId: row.clusterId })) return reply;
    return reply.code(202).send({ ...res, clusterId: row.clusterId });
  });

  registerHistoryRoutes(app, { projection, store: opts.store });
  registerOperationRoutes(app, { projection });
  registerBackupRoutes(app, { projection, nc: opts.nc, store: opts.store, home: opts.home });
  registerNetworkRoutes(app, { projection, nc: opts.nc, store: opts.store, home: opts.home });
  registerHaRoutes(app, { projection, nc: opts.nc });
  registerPlanRoutes(app, { projection, nc: opts.nc });
  registerMaintenanceRoutes(app, { projection, nc: opts.nc, store: opts.store });
  registerExtensionRoutes(app, { projection, nc: opts.nc, store: opts.store });
  registerUpgradeRoutes(app, { projection, nc: opts.nc });
  registerPitrRoutes(app, { projection, nc: opts.nc, store: opts.store });
  registerPitrRestoreRoutes(app, { projection, nc: opts.nc });
  registerBillingRoutes(app, { nc: opts.nc });
  registerAccountRoutes(app, { store: opts.store });

  try {
    await app.listen({ port: opts.port, host: opts.host ?? '127.0.0.1' });
  } catch (error) {
    await projection.stop();
    await directory.stop();
    throw error;
  }
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${opts.port}`,
    /** Stop listening, close idle connections, give running requests a moment, then cut them. */
    close: async () => {
      const closing = app.close();
      const cut = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
      await Promise.race([closing, new Promise((r) => setTimeout(r, CLOSE_GRACE_MS + 1000))]);
      clearTimeout(cut);
      await projection.stop();
      await directory.stop();
    },
  };
}
