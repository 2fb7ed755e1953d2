import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredBackup {
  size: number;
  sha256: string;
}

export interface PutOptions {
  /** Called with the bytes written so far, for progress. */
  onProgress?: (bytes: number) => void;
  /** Aborts the write; the partial data is removed. */
  signal?: AbortSignal;
}

/**
 * Where backup files live. A file becomes visible (`exists`, `open`, `list`) only once `put`
 * has written all of it: a dump that dies half-way never looks complete.
 */
export interface BackupStore {
  /** Stream `source` into the backup's file, computing size and sha256 on the way. */
  put(clusterId: string, backupId: string, source: Readable, options?: PutOptions): Promise<StoredBackup>;
  /** The complete file's bytes; rejects with code BACKUP_FILE_MISSING when there is none. */
  open(clusterId: string, backupId: string): Readable;
  /** Remove the file and any partial write of it. Idempotent. */
  delete(clusterId: string, backupId: string): Promise<void>;
  exists(clusterId: string, backupId: string): Promise<boolean>;
  /** Ids of the complete backups of a cluster. */
  list(clusterId: string): Promise<string[]>;
}

/** Counts bytes and hashes them while passing them through. */
export class HashingCounter extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;
  constructor(private readonly onProgress?: (bytes: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    this.onProgress?.(this.size);
    done(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

const SUFFIX = '.dump';
const PARTIAL = '.partial';

/** The default store: `{root}/{clusterId}/{backupId}.dump` (root is `$PGFLEET_HOME/backups`). */
export function createFileBackupStore(
  root: string,
): BackupStore & { pathOf(clusterId: string, backupId: string): string } {
  const dir = (clusterId: string) => join(root, clusterId);
  const pathOf = (clusterId: string, backupId: string) => join(dir(clusterId), `${backupId}${SUFFIX}`);
  return {
    pathOf,
    async put(clusterId, backupId, source, options = {}) {
      await mkdir(dir(clusterId), { recursive: true, mode: 0o700 });
      const final = pathOf(clusterId, backupId);
      const partial = final + PARTIAL;
      const counter = new HashingCounter(options.onProgress);
      try {
        await pipeline(source, counter, createWriteStream(partial, { mode: 0o600 }), { signal: options.signal });
        await rename(partial, final);
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      }
      return { size: counter.size, sha256: counter.digest() };
    },
    open(clusterId, backupId) {
      const stream = createReadStream(pathOf(clusterId, backupId));
      stream.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') Object.assign(e, { code: 'BACKUP_FILE_MISSING' });
      });
      return stream;
    },
    async delete(clusterId, backupId) {
      const final = pathOf(clusterId, backupId);
      await rm(final + PARTIAL, { force: true });
      await rm(final, { force: true });
    },
    async exists(clusterId, backupId) {
      return access(pathOf(clusterId, backupId)).then(
        () => true,
        () => false,
      );
    },
    async list(clusterId) {
      const names = await readdir(dir(clusterId)).catch(() => [] as string[]);
      return names
        .filter((n) => n.endsWith(SUFFIX))
        .map((n) => n.slice(0, -SUFFIX.length))
        .sort();
    },
  };
}
