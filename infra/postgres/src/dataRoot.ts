/**
 * The data root of a pgfleet home is the directory holding everything a PostgreSQL server (the
 * postgres OS user) reads or writes: the nodes' data directories and logs (`clusters/{clusterId}/
 * {nodeId}/`), the nodes' TLS key, certificate and CA copy (`clusters/{clusterId}/tls/nodes/`), the
 * control-plane event store (`eventstore/`). pgfleet's own state (secrets, api-token, platform.json,
 * the cluster CAs, gateways, NATS, backups) stays in the home, which only root needs to reach.
 *
 * It is the home itself when the postgres OS user can search every directory down to it (the
 * layout of before, so existing homes keep working); otherwise — a clone in root's 0700 home
 * directory — a directory of its own under `/var/lib/pgfleet`, named by a hash of the home's
 * path, with 0711 parents. `PGFLEET_DATA_ROOT` names another one. The first process to decide
 * writes the choice to `${home}/data-root`; every process (the runtime in each service, a
 * restarted platform) reads it from there, so they all agree even if modes change later. The
 * user's own directories are never chmod-ed.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { childEnv } from './childEnv.js';
import { postgresOsUser, type OsUser } from './osUser.js';

/** Where placed data roots go: one directory per home, named by a hash of the home's path. */
export const PLACED_DATA_ROOTS = '/var/lib/pgfleet';

/** The file in a home naming its data root: one absolute path, or `.` for the home itself (which may move). */
export const DATA_ROOT_RECORD = 'data-root';

/** In a placed data root: the home it belongs to, for whoever wonders what a /var/lib/pgfleet entry is. */
const HOME_NOTE = 'pgfleet-home';

export type DataRootErrorCode = 'DATA_ROOT_CONFLICT' | 'DATA_ROOT_UNREACHABLE' | 'DATA_ROOT_RECORD_INVALID';

/** The data root cannot be used: a stable code and one sentence saying what to do. */
export class DataRootError extends Error {
  constructor(
    readonly code: DataRootErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DataRootError';
  }
}

/** What the choice of a home's data root depends on. */
export interface DataRootFacts {
  /** The home, absolute. */
  home: string;
  /** The data root recorded in the home by an earlier choice. */
  recorded?: string;
  /** PGFLEET_DATA_ROOT, absolute. */
  requested?: string;
  /** The home already holds PostgreSQL data (a node's node.json, the event store): it keeps it. */
  homeHoldsData: boolean;
  /** The first directory down to the home the postgres OS user may not search; undefined when it reaches the home. */
  homeBlocker?: string;
  /** Where placed data roots go (PLACED_DATA_ROOTS). */
  base: string;
}

export type DataRootDecision =
  | { root: string; reason: 'recorded' | 'requested' | 'home' | 'placed' }
  | { code: 'DATA_ROOT_CONFLICT'; message: string };

/** A home's own directory under `base`: deterministic from the home's absolute path. */
export const placedDataRoot = (home: string, base: string = PLACED_DATA_ROOTS): string =>
  join(base, createHash('sha256').update(home).digest('hex').slice(0, 16));

/** Which directory a home's PostgreSQL data lives in. Pure. */
export function decideDataRoot(facts: DataRootFacts): DataRootDecision {
  const { home, recorded, requested } = facts;
  if (recorded !== undefined) {
    if (requested !== undefined && requested !== recorded) {
      const message =
        `PGFLEET_HOME ${home} keeps its PostgreSQL data in ${recorded} (see ${join(home, DATA_ROOT_RECORD)}), ` +
        `but PGFLEET_DATA_ROOT names ${requested}: unset PGFLEET_DATA_ROOT or use another PGFLEET_HOME`;
      return { code: 'DATA_ROOT_CONFLICT', message };
    }
    return { root: recorded, reason: 'recorded' };
  }
  if (requested !== undefined) return { root: requested, reason: 'requested' };
  if (facts.homeHoldsData || facts.homeBlocker === undefined) return { root: home, reason: 'home' };
  return { root: placedDataRoot(home, facts.base), reason: 'placed' };
}

/** `/`, `/a`, `/a/b` for `/a/b`. */
const pathAndParents = (path: string): string[] => {
  const dirs: string[] = [];
  for (let dir = path; ; dir = dirname(dir)) {
    dirs.unshift(dir);
    if (dirname(dir) === dir) return dirs;
  }
};

/**
 * The first existing directory down to `path` (itself included) that `user` may not search, as
 * the kernel answers that user (servers run with its uid and gid, no supplementary groups);
 * undefined when it reaches `path`. Directories still to be created are not judged.
 */
export function firstUnsearchable(path: string, user: OsUser = postgresOsUser()): string | undefined {
  if (user.uid === process.getuid?.()) return undefined;
  const dirs = pathAndParents(resolve(path)).filter((d) => existsSync(d));
  const script = 'for d; do test -x "$d" || { printf %s "$d"; exit 1; }; done';
  const probe = spawnSync('/bin/sh', ['-c', script, 'sh', ...dirs], {
    uid: user.uid,
    gid: user.gid,
    cwd: '/',
    env: childEnv(),
    encoding: 'utf8',
  });
  if (probe.error) throw probe.error;
  return probe.status === 0 ? undefined : probe.stdout || path;
}

/** A node's node.json under `${home}/clusters`, or the event store: data of the layout of before. */
function holdsPostgresData(home: string): boolean {
  if (existsSync(join(home, 'eventstore', 'PG_VERSION'))) return true;
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const clusters = join(home, 'clusters');
  return list(clusters).some((c) => list(join(clusters, c)).some((n) => existsSync(join(clusters, c, n, 'node.json'))));
}

function readRecord(home: string): string | undefined {
  const file = join(home, DATA_ROOT_RECORD);
  if (!existsSync(file)) return undefined;
  const root = readFileSync(file, 'utf8').trim();
  if (root === '.') return home;
  if (!isAbsolute(root)) {
    throw new DataRootError('DATA_ROOT_RECORD_INVALID', `${file} must hold "." or one absolute path, not "${root}"`);
  }
  return root;
}

/** Record the choice unless another process recorded one first; returns the recorded one. */
function record(home: string, root: string): string {
  const file = join(home, DATA_ROOT_RECORD);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${root === home ? '.' : root}\n`, { mode: 0o644 });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  return readRecord(home) ?? root;
}

/** Create the missing directories down to `dir`, each 0711 whatever the umask; existing ones stay as they are. */
function makeTraversable(dir: string): void {
  for (const d of pathAndParents(dir)) {
    if (existsSync(d)) continue;
    mkdirSync(d, { mode: 0o711 });
    chmodSync(d, 0o711);
  }
}

/** Data roots out of their home this process created and checked already. */
const prepared = new Set<string>();

/** A data root out of the home: created (0711 parents), reachable by the postgres OS user, labelled with its home. */
function prepare(root: string, home: string): void {
  if (prepared.has(root) && existsSync(root)) return;
  makeTraversable(root);
  const blocker = firstUnsearchable(root);
  if (blocker !== undefined) {
    const message =
      `the postgres OS user cannot reach the data root ${root} of PGFLEET_HOME ${home}: ${blocker} is not ` +
      'searchable; set PGFLEET_DATA_ROOT to a directory it can reach';
    throw new DataRootError('DATA_ROOT_UNREACHABLE', message);
  }
  const note = join(root, HOME_NOTE);
  if (!existsSync(note)) writeFileSync(note, `${home}\n`, { mode: 0o644 });
  prepared.add(root);
}

export interface DataRootOptions {
  /** Read for PGFLEET_DATA_ROOT; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where placed data roots go; default PLACED_DATA_ROOTS. */
  base?: string;
}

/**
 * The data root of `home` (see the top of this file): read from `${home}/data-root`, else
 * chosen and recorded there (when the home exists). A data root out of the home is created with
 * 0711 parents. Throws DataRootError when PGFLEET_DATA_ROOT contradicts the record or the postgres
 * OS user cannot reach the chosen directory.
 */
export function dataRoot(home: string, options: DataRootOptions = {}): string {
  const abs = resolve(home);
  const given = (options.env ?? process.env).PGFLEET_DATA_ROOT;
  const requested = given ? resolve(given) : undefined;
  const recorded = readRecord(abs);
  const undecided = recorded === undefined && requested === undefined;
  const homeHoldsData = undecided && holdsPostgresData(abs);
  const facts: DataRootFacts = {
    home: abs,
    base: options.base ?? PLACED_DATA_ROOTS,
    homeHoldsData,
    ...(recorded !== undefined ? { recorded } : {}),
    ...(requested !== undefined ? { requested } : {}),
  };
  if (undecided && !homeHoldsData) {
    const blocker = firstUnsearchable(abs);
    if (blocker !== undefined) facts.homeBlocker = blocker;
  }
  const decision = decideDataRoot(facts);
  if ('code' in decision) throw new DataRootError(decision.code, decision.message);

  let root = decision.root;
  if (root !== abs) prepare(root, abs);
  if (recorded === undefined && existsSync(abs)) {
    const winner = record(abs, root);
    if (winner !== root) {
      root = winner;
      if (root !== abs) prepare(root, abs);
    }
  }
  return root;
}
