import type { ClusterProjection } from './projection.js';

/** Events after which a backup is no longer on its way. */
const ENDED = new Set(['BackupCompleted', 'BackupFailed', 'BackupEvicted', 'BackupExpired', 'BackupDeleted']);

/** A backup still on its way: requested or running. */
export const onItsWay = (status: string): boolean => status === 'requested' || status === 'running';

export interface BackupEndWatch {
  /** Resolves true once `backupId` ended (since the watch began), false after `ms`. */
  ended(backupId: string, ms: number): Promise<boolean>;
  close(): void;
}

/**
 * Watch the backups that end from now on, of every cluster: begun before the backup is read, a
 * wait never misses an end that came between the read and the wait. Fed by the API's own event
 * store subscription (the projection's).
 */
export function watchBackupEnds(projection: ClusterProjection): BackupEndWatch {
  const seen = new Set<string>();
  const waiters = new Map<string, () => void>();
  const stop = projection.listen((e) => {
    if (!ENDED.has(e.type)) return;
    const id = (e.data as { backupId?: unknown }).backupId;
    if (typeof id !== 'string') return;
    seen.add(id);
    waiters.get(id)?.();
  });
  return {
    ended(backupId, ms) {
      if (seen.has(backupId)) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(backupId);
          resolve(false);
        }, ms);
        waiters.set(backupId, () => {
          clearTimeout(timer);
          waiters.delete(backupId);
          resolve(true);
        });
      });
    },
    close: stop,
  };
}
