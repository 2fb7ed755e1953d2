import type { ExecResult } from '@pgfleet/postgres';

/** What a node is: one PostgreSQL server of one cluster, on its own port and data directory. */
export interface NodeSpec {
  clusterId: string;
  nodeId: string;
  major: number;
  port: number;
  /** Where its data lives; drivers choose a default under their home (e.g. `.../{nodeId}/data`). */
  dataDir?: string;
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

export type NodeRuntimeErrorCode = 'NODE_NOT_FOUND' | 'NODE_EXISTS' | 'NOT_INITIALIZED' | 'START_FAILED' | 'STOP_FAILED';

/** A runtime failure a caller can act on; `message` is one sentence (with the server's last log lines for START_FAILED). */
export class NodeRuntimeError extends Error {
  constructor(readonly code: NodeRuntimeErrorCode, message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'NodeRuntimeError';
  }
}

/**
 * Where PostgreSQL nodes run (a local process, a container). Every operation is idempotent so a
 * resumed worker can repeat it: create of an existing identical node, start of a running node,
 * stop of a stopped node and remove of a missing node are no-ops.
 */
export interface NodeRuntime {
  /** Register the node and prepare its (empty) data directory; initdb/clone fill it. */
  create(spec: NodeSpec): Promise<NodeInfo>;
  /** Start the server (detached: it outlives the control plane). Never a second server on one data dir. */
  start(nodeId: string): Promise<{ pid: number }>;
  stop(nodeId: string, mode?: StopMode): Promise<void>;
  /** SIGKILL the postmaster: a crash, for failover and recovery drills. */
  kill9(nodeId: string): Promise<void>;
  status(nodeId: string): Promise<NodeStatusReport>;
  /** Run a command in the node's context (as the postgres OS user, PGDATA/PGHOST/PGPORT set). */
  exec(nodeId: string, cmd: string, args: readonly string[], options?: { input?: string; env?: Record<string, string> }): Promise<ExecResult>;
  /** Stop the node and delete its data directory. */
  remove(nodeId: string): Promise<void>;
  list(clusterId: string): Promise<Array<NodeInfo & { state: NodeState; pid?: number }>>;
}
