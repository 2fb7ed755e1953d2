import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';

export interface StoredBackup {
  size: number;
  sha256: string;
}

/**
 * A backup file being written, not visible yet: a tool writes into `fd` directly (its standard
 * output), so the bytes never pass through the control plane.
 */
export interface PartialBackup {
  /** An open descriptor of the partial file, for writing (e.g. a child process's stdout). */
  readonly fd: number;
  /** The bytes written so far. */
  bytes(): Promise<number>;
  /** Close it, take its size and sha256 (one read of the file), and make it the backup's file. */
  finish(): Promise<StoredBackup>;
  /** Close it and remove the partial file. Idempotent; a finished backup's file stays. */
  abort(): Promise<void>;
}

/**
 * Where backup files live. A file becomes visible (`exists`, `open`, `list`) only once it was
 * written whole (`begin` then `finish`): a dump that dies half-way never looks complete.
 */
export interface BackupStore {
  /** Start writing the backup's file (a partial file of this attempt's own). */
  begin(clusterId: string, backupId: string): Promise<PartialBackup>;
  /** The complete file's bytes; rejects with code BACKUP_FILE_MISSING when there is none. */
  open(clusterId: string, backupId: string): Readable;
  /** Remove the file and every partial write of it (attempts that were cut short). Idempotent. */
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
    async begin(clusterId, backupId) {
      await mkdir(dir(clusterId), { recursive: true, mode: 0o700 });
      const final = pathOf(clusterId, backupId);
      // One partial file per attempt: two workers racing for a backup never write the same file.
      const partial = `${final}${PARTIAL}-${randomBytes(6).toString('hex')}`;
      const file = await open(partial, 'wx', 0o600);
      let state: 'open' | 'finished' | 'aborted' = 'open';
      const close = () => file.close().catch(() => undefined);
      return {
        fd: file.fd,
        bytes: async () => (state === 'open' ? (await file.stat()).size : 0),
        async finish() {
          if (state !== 'open') throw new Error(`backup file ${backupId} is already ${state}`);
          state = 'finished';
          await close();
          try {
            const hash = createHash('sha256');
            let size = 0;
            for await (const chunk of createReadStream(partial) as AsyncIterable<Buffer>) {
              hash.update(chunk);
              size += chunk.length;
            }
            await rename(partial, final);
            return { size, sha256: hash.digest('hex') };
          } catch (error) {
            await rm(partial, { force: true });
            throw error;
          }
        },
        async abort() {
          if (state === 'open') await close();
          if (state !== 'finished') await rm(partial, { force: true });
          state = state === 'finished' ? state : 'aborted';
        },
      };
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
      const partials = (await readdir(dir(clusterId)).catch(() => [] as string[])).filter((name) =>
        name.startsWith(`${backupId}${SUFFIX}${PARTIAL}`),
      );
      await Promise.all(partials.map((name) => rm(join(dir(clusterId), name), { force: true })));
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
