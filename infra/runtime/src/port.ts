import type { Readable } from 'node:stream';
import type { Plan } from '@pgfleet/contracts';
import type { ArchiveBackup, ArchiveInfo, ExecResult, NodeTls } from '@pgfleet/postgres';

/** What a node is: one PostgreSQL server of one cluster, on its own port and data directory. */
export interface NodeSpec {
  clusterId: string;
  nodeId: string;
  major: number;
  port: number;
  /** Where its data lives; drivers choose a default under their home (e.g. `.../{nodeId}/data`). */
  dataDir?: string;
  /**
   * The host it goes to (`RuntimeHosts.loads`, as placement decided: NodePlaced) on a runtime with
   * several hosts; without one, the least loaded host. Ignored by runtimes with one host.
   */
  host?: string;
}

export type NodeState = 'running' | 'stopped' | 'missing';
export type StopMode = 'fast' | 'immediate';

export interface NodeInfo {
  clusterId: string;
  nodeId: string;
  major: number;
  port: number;
  dataDir: string;
  /** Directory of the node's unix socket (the superuser is trusted there). */
  socketDir: string;
}

export interface NodeStatusReport {
  state: NodeState;
  /** The postmaster's pid while running. */
  pid?: number;
  node?: NodeInfo;
}

export type NodeRuntimeErrorCode =
  | 'NODE_NOT_FOUND'
  | 'NODE_EXISTS'
  | 'NOT_INITIALIZED'
  | 'START_FAILED'
  | 'STOP_FAILED'
  /** pg_upgrade refused or failed (details.reasons); the node was put back as it was. */
  | 'UPGRADE_FAILED'
  /** The upgraded data directory is in use: the old one cannot come back. */
  | 'UPGRADE_SWITCHED'
  /** This driver does not do that (yet): the message names the method or setting. */
  | 'NOT_SUPPORTED';

/**
 * A runtime failure a caller can act on; `message` is one sentence (with the server's last log
 * lines for START_FAILED).
 */
export class NodeRuntimeError extends Error {
  constructor(
    readonly code: NodeRuntimeErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'NodeRuntimeError';
  }
}

/** How the control plane reaches a node's server as the superuser (trusted; never leaves the platform). */
export interface NodeEndpoint {
  host: string;
  port: number;
  user: string;
  database: string;
  /** The superuser's password where the driver reaches the node over TCP (docker); never logged. */
  password?: string;
}

/** Where the other nodes of the cluster reach this one (a follower's primary_conninfo host and port). */
export interface PeerAddress {
  host: string;
  port: number;
}

/** The leader a follower streams from: its peer address and the replication role's credentials. */
export interface UpstreamLeader extends PeerAddress {
  user: string;
  /** Kept in a 0600 passfile in the follower's data directory, never on a command line or in its configuration. */
  password: string;
  /**
   * libpq sslmode for replication. Default: verify-full against the node's CA copy when the node
   * has TLS material (`setup.tls` for cloneFrom, its configuration for follow and repoint), else libpq's.
   */
  sslmode?: string;
}

/** What a node's configuration is made of (postgresql.conf sized from the plan, pg_hba.conf). */
export interface NodeSetup {
  plan: Plan;
  /** The node's TLS key, certificate and the cluster CA; the node speaks TLS from the start. */
  tls?: Required<NodeTls>;
  /** cluster_name shown in the process titles (a clone defaults to its slot name; configure keeps the current one). */
  clusterName?: string;
  /** Only TLS connections over TCP (hostssl) in pg_hba.conf; needs `tls`. */
  forceTls?: boolean;
  /**
   * Continuous archiving into the cluster's pgBackRest stanza: archive_mode on, archive_command
   * (asynchronous archive-push), restore_command (archive-get), archive_timeout 60 s.
   */
  archive?: { stanza: string };
  /**
   * The PostgreSQL parameters the user set on the cluster (`parameterSettingsOf` of the cluster
   * view: postgresql.conf name and rendered value), written after the plan's sizing so they win.
   */
  parameters?: Readonly<Record<string, string>>;
}

/**
 * A stanza's backups and WAL as pgBackRest reports them (`ArchiveBackup`: label, type, startedAt,
 * stoppedAt = the earliest instant a restore from it reaches, sizes, WAL range, timeline), parsed in
 * @pgfleet/postgres.
 */
export type { ArchiveBackup, ArchiveInfo } from '@pgfleet/postgres';

/** A cluster's continuous archive (pgBackRest), one stanza per cluster. Idempotent where it can be. */
export interface WalArchive {
  /** No-op when it exists for this system. */
  createStanza(stanza: string, leaderNodeId: string): Promise<void>;
  /** After pg_upgrade (new system id / version). */
  upgradeStanza(stanza: string, leaderNodeId: string): Promise<void>;
  /** Rejects with pgBackRest's reason. */
  check(stanza: string, leaderNodeId: string): Promise<void>;
  /**
   * A backup of the leader (pg1), full unless `type` says otherwise; with `standbyNodeId` its files
   * are copied from that standby (--backup-standby). Resolves with the new backup.
   */
  backup(
    stanza: string,
    options: { leaderNodeId: string; standbyNodeId?: string; type?: 'full' | 'diff' | 'incr' },
  ): Promise<ArchiveBackup>;
  info(stanza: string): Promise<ArchiveInfo>;
  /** repo1-retention-full-type=time. */
  expire(stanza: string, options: { keepDays: number }): Promise<void>;
  /**
   * Replace the stopped node's data (of any cluster: a fork) with the stanza's state at `targetTime`
   * (ISO with offset), then write the node's own configuration (`setup`), start it and resolve once
   * it accepts writes. Rejects, without touching the node, for a target before the oldest backup's
   * end or in the future; with PostgreSQL's reason when recovery stops short of the target (beyond
   * the archive); after `timeoutSeconds` (default 1800) of recovery.
   */
  restore(
    nodeId: string,
    options: { stanza: string; targetTime: string; setup: NodeSetup; timeoutSeconds?: number },
  ): Promise<void>;
  /** stanza-delete and its files; idempotent. */
  remove(stanza: string): Promise<void>;
}

/** What `pg_upgrade --check` said: compatible, or its reasons (its report and the files it names, one line each). */
export type UpgradeCheck = { ok: true } | { ok: false; reasons: string[] };

/**
 * A node moved to a new major version with pg_upgrade --link, in idempotent steps (a resumed caller
 * repeats any of them). The new data directory is made beside the old one; until `switchTo` the
 * node is still its old self and `discard` puts it back as it was (with --link, pg_upgrade only
 * renamed the old global/pg_control, which `discard` renames back). After `switchTo` the new server
 * may have started: the old data directory must never start again, only `removeOld` goes on.
 */
export interface MajorUpgrade {
  /**
   * initdb `toMajor` into the new data directory (same options as every node) when it is not ready,
   * then `pg_upgrade --check` against the node as it is: a running node is checked live.
   */
  check(nodeId: string, options: { toMajor: number }): Promise<UpgradeCheck>;
  /**
   * `pg_upgrade --link` of the stopped node into its new data directory (a fresh initdb when an
   * earlier attempt was interrupted); a no-op once done. Rejects with pg_upgrade's reasons after
   * putting the old data directory back as it was.
   */
  upgrade(nodeId: string, options: { toMajor: number }): Promise<void>;
  /**
   * Point the node at its upgraded data directory (its record: major `toMajor`, the new data dir)
   * with its own configuration written there (`setup`). Not started. Repeating it rewrites the configuration.
   */
  switchTo(nodeId: string, options: { toMajor: number; setup: NodeSetup }): Promise<void>;
  /** Before `switchTo`: the new data directory removed, pg_control renamed back; refused after it. */
  discard(nodeId: string): Promise<void>;
  /** After `switchTo`: the old data directory removed (the end of the rollback point). No-op without one. */
  removeOld(nodeId: string): Promise<void>;
}

/** A PostgreSQL tool running against a node, its stdout as a stream. */
export interface ToolProcess {
  /**
   * The tool's stdout; it errors (instead of ending) when the tool fails. Read it (or `resume()`
   * it): a tool whose output nobody reads blocks once the pipe is full.
   */
  stdout: Readable;
  /** Resolves on exit code 0 with its input used whole; rejects with `{tool} failed: {last stderr lines}` otherwise. */
  done: Promise<void>;
  /** SIGKILL the tool. */
  kill(): void;
}

/**
 * A role a tool logs in as instead of the superuser (e.g. a database's owner), by password over
 * the node's socket. The password reaches the tool only through a temporary passfile (0600, owned
 * by the postgres OS user, removed once the tool exited): never its command line or environment.
 */
export interface ToolLogin {
  user: string;
  password: string;
}

/** Files of a node's configuration a caller may replace as a whole. */
export type NodeConfigFile = 'pg_hba.conf';

/** The hosts a runtime makes nodes on (the docker runtime's Docker hosts); absent: the control plane's machine. */
export interface RuntimeHosts {
  /** Every host a node can be created on, with the number of nodes (of every cluster) it holds now. */
  loads(): Promise<Array<{ host: string; nodes: number }>>;
  /** Where a node is: its host and container name; undefined for an unknown node. */
  locate(nodeId: string): Promise<{ host: string; container: string } | undefined>;
}

/**
 * Where PostgreSQL nodes run (a local process, a container): the only way services touch a
 * node. Services never build a host path or a socket directory; they name nodes. Every
 * operation is idempotent so a resumed worker can repeat it: create of an existing identical
 * node, start of a running node, stop of a stopped node and remove of a missing node are no-ops.
 */
export interface NodeRuntime {
  /** Register the node and prepare its (empty) data directory; initdb/clone fill it. */
  create(spec: NodeSpec): Promise<NodeInfo>;
  /** Start the server (detached: it outlives the control plane). Never a second server on one data dir. */
  start(nodeId: string): Promise<{ pid: number }>;
  stop(nodeId: string, mode?: StopMode): Promise<void>;
  /**
   * Fence a primary for a leader change: a fast shutdown is requested and this resolves once its
   * shutdown checkpoint is written (it takes no connection or write from the request on, and its
   * walsenders send that checkpoint to its standbys), without waiting for its archiver and its
   * processes to exit as `stop` does. A stopped node is fenced as it is. Resolves with the latest
   * checkpoint location; `stop` (or `start`'s wait) sees the rest of the shutdown through.
   */
  fence(nodeId: string): Promise<{ checkpoint: string }>;
  /** SIGKILL the postmaster: a crash, for failover and recovery drills. */
  kill9(nodeId: string): Promise<void>;
  status(nodeId: string): Promise<NodeStatusReport>;
  /** Run a command in the node's context (as the postgres OS user, PGDATA/PGHOST/PGPORT set). */
  exec(
    nodeId: string,
    cmd: string,
    args: readonly string[],
    options?: { input?: string; env?: Record<string, string> },
  ): Promise<ExecResult>;
  /** Stop the node and delete its data directory. */
  remove(nodeId: string): Promise<void>;

  /**
   * initdb (checksums, UTF8, scram over TCP) then the node's configuration. Idempotent: a
   * complete node is only reconfigured (and reloaded when running).
   */
  initialize(nodeId: string, setup: NodeSetup): Promise<void>;
  /**
   * Clone a follower from its leader with pg_basebackup (WAL streamed, slot `slotName` created)
   * and make it a standby of it (application_name `slotName`). Idempotent: a complete clone is
   * only reconfigured; an interrupted one is wiped and redone.
   */
  cloneFrom(nodeId: string, setup: NodeSetup & { leader: UpstreamLeader; slotName: string }): Promise<void>;
  /**
   * Make a follower of a new cluster from a copy of its leader's data directory, taken while that
   * leader is stopped and has not run since it was initialized (a cold copy: same system identifier,
   * consistent at once); it is then a standby of `leader` on `slotName`, which the caller creates
   * on the leader before starting the follower. Refused while the source runs. Idempotent like
   * cloneFrom. Much faster than a clone: no checkpoint or base backup of a running leader.
   */
  copyStopped(
    nodeId: string,
    setup: NodeSetup & { sourceNodeId: string; leader: UpstreamLeader; slotName: string },
  ): Promise<void>;
  /** Is the node's storage complete (initdb or clone finished and configured)? False for an unknown node. */
  isInitialized(nodeId: string): Promise<boolean>;
  /** Rewrite the node's configuration (e.g. pg_hba.conf with forced TLS) and reload it when running. */
  configure(nodeId: string, setup: NodeSetup): Promise<void>;
  /**
   * Make a stopped node a standby of `leader`: standby.signal, primary_conninfo, passfile and slot
   * (synchronous_standby_names dropped). Start it after. On a node already running as a standby
   * it repoints (so a resumed worker may repeat it); a running leader is refused.
   */
  follow(nodeId: string, leader: UpstreamLeader, slotName: string): Promise<void>;
  /**
   * Point a running standby at another leader (passfile, then primary_conninfo and
   * primary_slot_name by ALTER SYSTEM) and reload; a running leader is refused. On a stopped node
   * only its files change.
   */
  repoint(nodeId: string, leader: UpstreamLeader, slotName: string): Promise<void>;
  /**
   * Cut a running standby off its leader (its WAL receiver stops and stays stopped; the node stays
   * in recovery with all it received): a failover's fence. Resolves once no WAL receiver runs, with
   * the last WAL location the node received. A leader is refused.
   */
  detach(nodeId: string): Promise<{ receivedLsn: string | null }>;
  /**
   * Rewind a stopped old leader onto the timeline of `sourceNodeId` (a running leader of the same
   * cluster) with pg_rewind, keeping the node's own configuration; `follow` then `start` make it
   * its standby. Rejects with pg_rewind's reason when it cannot (then clone it again).
   */
  rewind(nodeId: string, sourceNodeId: string): Promise<void>;
  /** Ask the server to reread its configuration and certificates (SIGHUP); a stopped node reads them at start. */
  reload(nodeId: string): Promise<void>;
  /** Promote a standby; resolves once it accepts writes. A leader is left as it is. */
  promote(nodeId: string): Promise<void>;
  /** The server's control data (pg_controldata) as key/value, e.g. 'Latest checkpoint location'. Running or stopped. */
  controlData(nodeId: string): Promise<Record<string, string>>;
  /** The superuser's connection to the node (trusted; for the control plane only). */
  endpoint(nodeId: string, database?: string): Promise<NodeEndpoint>;
  /** Where the other nodes of its cluster reach it. */
  peerAddress(nodeId: string): Promise<PeerAddress>;
  /**
   * Run a PostgreSQL client tool (pg_dump, pg_restore, psql, ...) of the node's major version
   * against the node, as its superuser (or as `login`), with `--dbname database` when given:
   * `stdin` is fed to it, its stdout is streamed back — or, with `output` (an open file descriptor
   * of the caller's), written there directly and `stdout` ends empty: a dump reaches its file without
   * passing through the control plane. The tool sees none of the control plane's environment.
   * Never throws: an unknown node or tool fails `done` and `stdout`.
   */
  runTool(
    nodeId: string,
    tool: string,
    args: readonly string[],
    options?: { stdin?: Readable; database?: string; login?: ToolLogin; output?: number },
  ): ToolProcess;
  list(clusterId: string): Promise<Array<NodeInfo & { state: NodeState; pid?: number }>>;
  /**
   * Have a spare initialized data directory of `major` ready, so the next `initialize` only moves it
   * into place (the process runtime renames it, the docker runtime unpacks it into the node's
   * volume): resolves once one is ready (at once on a driver, or a process runtime, without
   * spares). Rejects with initdb's reason when one cannot be made.
   */
  warm?(major: number): Promise<void>;
  /** Set by runtimes with hosts to choose from (docker): what placement decides over, and where a node runs. */
  readonly hosts?: RuntimeHosts;
  /** The clusters' continuous archives (pgBackRest). */
  readonly archive: WalArchive;
  /** Major upgrades of a node with pg_upgrade --link. */
  readonly majorUpgrade: MajorUpgrade;
}
