import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runAsPostgresOk } from './exec.js';
import { renderHba, type HbaInput } from './hba.js';
import { NODE_CONFIG_MARKER, nodeSocketDir, renderNodeConfig, type NodeConfigInput } from './nodeConfig.js';
import { ensureOwnedDir, ownedTempDir } from './osUser.js';
import { writeOwnedFile } from './ownedFile.js';
import { toolchain } from './toolchain.js';

export interface InitNodeInput extends Omit<NodeConfigInput, 'socketDir'> {
  major: number;
  /** Superuser password for TCP logins (scram-sha-256); without it the superuser only logs in over the socket. */
  superuserPassword?: string;
  /** pg_hba.conf options; the replication role defaults to `replicator`. */
  hba?: Partial<HbaInput>;
}

export interface InitializedNode {
  dataDir: string;
  port: number;
  /** Directory of the unix socket; the superuser is trusted there. */
  socketDir: string;
}

/** initdb's options for every node and spare: superuser postgres, UTF8, C locale, checksums, socket trust, scram. */
export const INITDB_OPTIONS: readonly string[] = [
  '-U',
  'postgres',
  '-E',
  'UTF8',
  '--locale=C',
  '--data-checksums',
  '--auth-local=trust',
  '--auth-host=scram-sha-256',
];

/**
 * True once a data directory is complete: PostgreSQL files present and pgfleet's configuration
 * written (the last step), so a directory left by a killed initdb or pg_basebackup is not.
 */
export function isNodeInitialized(dataDir: string): boolean {
  if (!existsSync(join(dataDir, 'PG_VERSION'))) return false;
  try {
    return readFileSync(join(dataDir, 'postgresql.conf'), 'utf8').startsWith(NODE_CONFIG_MARKER);
  } catch {
    return false;
  }
}

/** Remove everything inside a directory (keeping the directory, its owner and mode). */
export function emptyDir(dir: string): void {
  if (existsSync(dir)) for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
}

/**
 * Create the node's unix socket directory when it is not the data directory (a short path
 * under /tmp, which a reboot may have emptied). Returns it.
 */
export function ensureSocketDir(dataDir: string): string {
  const socketDir = nodeSocketDir(dataDir);
  if (socketDir.startsWith('/tmp/pgfleet-sock/')) {
    const parent = dirname(socketDir);
    mkdirSync(parent, { recursive: true, mode: 0o711 });
    chmodSync(parent, 0o711);
  }
  ensureOwnedDir(socketDir);
  return socketDir;
}

/** Write a node's postgresql.conf and pg_hba.conf (and its log and socket dirs). Idempotent. */
export function writeNodeConfig(input: Omit<InitNodeInput, 'major' | 'superuserPassword'>): InitializedNode {
  const socketDir = ensureSocketDir(input.dataDir);
  ensureOwnedDir(join(input.dataDir, 'log'));
  writeOwnedFile(join(input.dataDir, 'postgresql.conf'), renderNodeConfig({ ...input, socketDir }));
  writeOwnedFile(join(input.dataDir, 'pg_hba.conf'), renderHba({ replicationRole: 'replicator', ...input.hba }));
  return { dataDir: input.dataDir, port: input.port, socketDir };
}

/**
 * initdb a node's data directory as the postgres OS user (data checksums, UTF8, socket trust,
 * scram-sha-256 over TCP), then write its configuration. Safe to run again: an initialized
 * directory only gets its configuration rewritten; a half-written one is redone.
 */
export async function initNode(input: InitNodeInput): Promise<InitializedNode> {
  const { dataDir } = input;
  if (!isNodeInitialized(dataDir)) {
    emptyDir(dataDir);
    ensureOwnedDir(dataDir);
    const tc = toolchain(input.major);
    const args = ['-D', dataDir, ...INITDB_OPTIONS];
    let scratch: string | undefined;
    try {
      if (input.superuserPassword !== undefined) {
        scratch = await ownedTempDir('pgfleet-pw-');
        writeOwnedFile(join(scratch, 'pw'), `${input.superuserPassword}\n`);
        args.push(`--pwfile=${join(scratch, 'pw')}`);
      }
      await runAsPostgresOk(tc.bin('initdb'), args);
    } finally {
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    }
  }
  return writeNodeConfig(input);
}
