/**
 * What the failover benchmark needs from a highly available PostgreSQL setup: one write endpoint,
 * a way to find the leader's postmaster, and a way to know the cluster is whole again. The
 * benchmark (killLoop.ts) runs the same write load (load.ts) and the same kills against every
 * target; a target only starts, describes and removes its servers.
 *
 * Implemented by `patroni.ts` (Patroni + etcd + HAProxy). The pgfleet target plugs in the same
 * way: a Business cluster made through the platform, `url` = the gateway URL given out by
 * `pgfleet cluster url`, registered in the `TARGETS` map of index.ts.
 */
export interface FailoverTarget {
  /** Shown in the table, e.g. `patroni (ttl 30, loop_wait 10)`. */
  name: string;
  /**
   * libpq URL of the write endpoint (through HAProxy), as a user would get it. The load creates
   * its own table in that database and connects as that user (it needs CREATE TABLE).
   */
  url: string;
  /**
   * Postmaster pid of the current leader, as an OS pid on this machine. The kill loop sends
   * SIGKILL to it, or freezes the server: SIGSTOP to it and to all its descendants (backends, WAL
   * senders...; not a process group, which holds only the postmaster since every PostgreSQL child
   * calls setsid()), SIGCONT once a new leader acknowledged a write. The target's supervisor is not
   * a descendant of the postmaster, so it is not frozen.
   */
  leaderPid(): Promise<number>;
  /**
   * Resolves once every node is back: one leader accepting writes through `url`, every follower
   * streaming from it and a synchronous follower chosen. Called before every kill and before the
   * final check; rejects (with what is missing) after `timeoutMs`.
   */
  waitHealthy(timeoutMs: number): Promise<void>;
  /**
   * What the target had to do by hand, as an operator would, to get healthy again (e.g. Patroni:
   * `patronictl reinit` of a member stuck on a diverged timeline), one line each. Reported beside
   * the figures: pgfleet promises a cluster that returns to three healthy nodes without anyone acting.
   */
  interventions(): string[];
  /** Stops every process the target started and removes its directories; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts a target on free ports in temporary directories; index.ts has one per name. A factory may
 * hand its cleanup to `onCleanup` as soon as it has started anything, so a Ctrl-C while it is still
 * starting removes what it started too.
 */
export type TargetFactory = (onCleanup: (close: () => Promise<void>) => void) => Promise<FailoverTarget>;
