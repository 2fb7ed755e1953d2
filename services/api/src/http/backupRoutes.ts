import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { findBackup, isKept, parseWith, querySubject, type Backup, type Rejection } from '@pgfleet/contracts';
import { createFileBackupStore } from '@pgfleet/backupstore';
import { sendCommand } from '@pgfleet/bus';
import type { EventStore } from '@pgfleet/eventstore';
import { loadBackups } from './backupHistory.js';
import { backupRow } from './backupRow.js';
import { BackupListQuery, BackupParams, BackupShowQuery, RestoreBody, ScheduleBody } from './backupSchemas.js';
import { onItsWay, watchBackupEnds } from './backupWait.js';
import { acceptedOperation } from './operationRoutes.js';
import type { ClusterProjection, ClusterSummary } from './projection.js';
import { reject } from './rejections.js';
import { findCluster, requestMeta } from './clusterLookup.js';

export interface BackupRoutesContext {
  projection: ClusterProjection;
  nc: NatsConnection;
  store: EventStore;
  home: string;
}

/** How long a backup service that answers a restore only when done (no operation) may take. */
const RESTORE_TIMEOUT_MS = 60 * 60_000;

const notCompleted = (backup: Backup): Rejection => ({
  code: 'BACKUP_NOT_COMPLETED',
  message: `backup ${backup.backupId} is ${backup.status}, not completed`,
  details: { field: 'id', status: backup.status },
});

type Progress = { bytes: number; startedAt: number };

/**
 * Backups of a cluster over HTTP: request (RequestBackup over NATS), list and show (a fold of
 * `backups-{clusterId}`, with live progress from the backup service), download (the file, with
 * its sha256 in `x-backup-sha256`), restore (in place or into a new cluster of the same plan) and
 * the daily schedule.
 */
export function registerBackupRoutes(app: FastifyInstance, ctx: BackupRoutesContext): void {
  const files = createFileBackupStore(process.env.PGFLEET_BACKUP_DIR ?? join(ctx.home, 'backups'));

  /** The cluster and one of its backups, or a rejection already sent. */
  const findBackupOf = async (
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ cluster: ClusterSummary; backup: Backup } | undefined> => {
    const params = parseWith(BackupParams, req.params, 'path');
    if (!params.ok) return void reject(reply, params.rejection);
    const cluster = await findCluster(ctx.projection, req, reply);
    if (!cluster) return undefined;
    const { id } = params.value;
    const backup = findBackup(await loadBackups(ctx.store, cluster.clusterId), id);
    if (!backup) {
      const message = `cluster ${cluster.name} has no backup ${id}`;
      return void reject(reply, { code: 'BACKUP_NOT_FOUND', message, details: { field: 'id' } });
    }
    return { cluster, backup };
  };

  app.post('/v1/clusters/:name/backups', async (req, reply) => {
    const cluster = await findCluster(ctx.projection, req, reply);
    if (!cluster) return;
    const data = { clusterId: cluster.clusterId };
    const res = await sendCommand(ctx.nc, 'backup', 'RequestBackup', data, requestMeta(req));
    if (!res.ok) return reject(reply, res);
    return reply.code(202).send({ ...res, clusterId: cluster.clusterId, backupId: res.result?.backupId });
  });

  app.get('/v1/clusters/:name/backups', async (req, reply) => {
    const q = parseWith(BackupListQuery, req.query, 'query');
    if (!q.ok) return reject(reply, q.rejection);
    // A deleted cluster's backups too: they are kept for the plan's retention after the delete.
    const cluster = await findCluster(ctx.projection, req, reply, true);
    if (!cluster) return;
    const state = await loadBackups(ctx.store, cluster.clusterId);
    const { clusterId, name } = cluster;
    // Available (completed, and those on their way) unless ?all=true adds the gone and failed ones.
    const shown = q.value.all === 'true' ? state.backups : state.backups.filter(isKept);
    const retainedUntil = state.retainedUntil ?? null;
    return { clusterId, name, schedule: state.schedule ?? null, retainedUntil, backups: shown.map(backupRow) };
  });

  app.get('/v1/clusters/:name/backups/:id', async (req, reply) => {
    const q = parseWith(BackupShowQuery, req.query, 'query');
    if (!q.ok) return reject(reply, q.rejection);
    // Watched from before the first read: an end between the read and the wait is not missed.
    const watch = q.value.wait ? watchBackupEnds(ctx.projection) : undefined;
    try {
      const found = await findBackupOf(req, reply);
      if (!found) return;
      let { backup } = found;
      const { clusterId } = found.cluster;
      if (watch && onItsWay(backup.status) && (await watch.ended(backup.backupId, q.value.wait! * 1000))) {
        backup = findBackup(await loadBackups(ctx.store, clusterId), backup.backupId) ?? backup;
      }
      let progress: Progress | null = null;
      if (backup.status === 'running') {
        const query = JSON.stringify({ backupId: backup.backupId });
        progress = await ctx.nc
          .request(querySubject('backup', 'BackupProgress'), query, { timeout: 3000 })
          .then((m) => m.json() as Progress | null)
          .catch(() => null);
      }
      return { clusterId, ...backupRow(backup), progress };
    } finally {
      watch?.close();
    }
  });

  app.get('/v1/clusters/:name/backups/:id/download', async (req, reply) => {
    const found = await findBackupOf(req, reply);
    if (!found) return;
    const { cluster, backup } = found;
    if (backup.status !== 'completed' || !backup.sha256) return reject(reply, notCompleted(backup));
    if (!(await files.exists(cluster.clusterId, backup.backupId))) {
      const message = `the file of backup ${backup.backupId} is missing from the backup store`;
      return reject(reply, { code: 'BACKUP_FILE_MISSING', message, details: { field: 'id' } });
    }
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', String(backup.size))
      .header('content-disposition', `attachment; filename="${cluster.name}-${backup.backupId}.dump"`)
      .header('x-backup-sha256', backup.sha256)
      .send(files.open(cluster.clusterId, backup.backupId));
  });

  app.post('/v1/clusters/:name/backups/:id/restore', async (req, reply) => {
    const body = parseWith(RestoreBody, req.body ?? {}, 'restore');
    if (!body.ok) return reject(reply, body.rejection);
    const found = await findBackupOf(req, reply);
    if (!found) return;
    const { cluster, backup } = found;
    if (backup.status !== 'completed') return reject(reply, notCompleted(backup));
    // In place, or `into` a new cluster of the same plan that the restore operation creates.
    const into = body.value.into ? { into: { name: body.value.into } } : {};
    const data = { clusterId: cluster.clusterId, backupId: backup.backupId, ...into };
    const res = await sendCommand(ctx.nc, 'backup', 'RestoreBackup', data, requestMeta(req), {
      timeoutMs: RESTORE_TIMEOUT_MS,
    });
    if (!res.ok) return reject(reply, res);
    const restore = {
      backupId: backup.backupId,
      cluster: cluster.name,
      into: body.value.into ?? cluster.name,
      created: body.value.into !== undefined,
    };
    if (acceptedOperation(reply, res, restore)) return reply;
    return { ...res.result, ...restore };
  });

  app.put('/v1/clusters/:name/backups/schedule', async (req, reply) => {
    const body = parseWith(ScheduleBody, req.body ?? {}, 'schedule');
    if (!body.ok) return reject(reply, body.rejection);
    const cluster = await findCluster(ctx.projection, req, reply);
    if (!cluster) return;
    const data = { clusterId: cluster.clusterId, ...body.value };
    const res = await sendCommand(ctx.nc, 'backup', 'SetBackupSchedule', data, requestMeta(req));
    if (!res.ok) return reject(reply, res);
    return { ...res, clusterId: cluster.clusterId, at: body.value.at, tz: body.value.tz };
  });
}
