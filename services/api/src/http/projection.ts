import {
  evolveClusterView,
  findOperation,
  initialClusterView,
  isClusterEvent,
  type ClusterView,
  type EventEnvelope,
  type Operation,
} from '@pgfleet/contracts';
import type { EventStore, Subscription } from '@pgfleet/eventstore';

/** One row of the cluster list: a cluster view, summarized. */
export interface ClusterSummary {
  clusterId: string;
  name: string;
  accountId: string;
  plan: string;
  version: number;
  status: 'provisioning' | 'ready' | 'failed' | 'deleting' | 'deleted';
  leader?: string;
  nodes: number;
  failureReason?: string;
  createdAt: string;
  updatedAt: string;
  streamVersion: number;
}

/** What the projection holds per cluster: its view (the contracts' fold) and the row it gives. */
export interface ClusterEntry {
  view: ClusterView;
  summary: ClusterSummary;
}

const CLUSTER_STREAM = 'cluster-';

/** The row of a cluster view, as of `last`, the latest event of its stream; none before ClusterRequested. */
function summarize(view: ClusterView, last: EventEnvelope): ClusterSummary | undefined {
  const { status, clusterId, name, accountId, plan, version, createdAt } = view;
  if (status === 'none' || !clusterId || !name || !accountId || !plan || !version || !createdAt) return undefined;
  return {
    clusterId,
    name,
    accountId,
    plan,
    version,
    status,
    leader: view.leader,
    nodes: view.nodes.length,
    createdAt,
    updatedAt: last.occurredAt,
    streamVersion: last.streamVersion,
    failureReason: view.failureReason,
  };
}

/** Fold one event of the global order into the cluster list; events of other streams are not its business. */
export function applyToClusters(clusters: Map<string, ClusterEntry>, e: EventEnvelope): void {
  if (!e.streamId.startsWith(CLUSTER_STREAM) || !isClusterEvent(e)) return;
  const clusterId = e.streamId.slice(CLUSTER_STREAM.length);
  const before = clusters.get(clusterId);
  // A cluster stream opens with ClusterRequested: what would come before it names no cluster.
  if (!before && e.type !== 'ClusterRequested') return;
  const view = evolveClusterView(before?.view ?? initialClusterView(), e);
  const summary = summarize(view, e);
  if (summary) clusters.set(clusterId, { view, summary });
}

/** How long a request waits for the projection to reach what was committed before it. */
const CAUGHT_UP_TIMEOUT_MS = 30_000;

/**
 * The cluster list as an in-memory projection, fed by one subscription to the event store
 * (`durable: false`: no checkpoint, it starts from the beginning, so it is rebuilt at every start).
 * A route that reads it waits for `caughtUp()` first: a command accepted before the request is
 * in what the request sees (read-your-writes).
 */
export class ClusterProjection {
  private readonly clusters = new Map<string, ClusterEntry>();
  private readonly listeners = new Set<(e: EventEnvelope) => void>();
  private subscription: Subscription | undefined;
  private lastError: unknown;

  constructor(private readonly store: EventStore) {}

  /** Subscribe, and resolve once everything committed so far is folded. */
  async start(): Promise<void> {
    const subscription = this.store.subscribe({
      subscriberId: 'api-cluster-list',
      durable: false,
      handler: (e) => {
        applyToClusters(this.clusters, e);
        for (const listener of this.listeners) listener(e);
      },
      onError: (error) => {
        this.lastError = error;
      },
    });
    this.subscription = subscription;
    try {
      await subscription.caughtUp();
    } catch (error) {
      await subscription.stop();
      throw error;
    }
  }

  /** Resolves once every event committed before this call is folded; throws after `timeoutMs`. */
  async caughtUp(timeoutMs = CAUGHT_UP_TIMEOUT_MS): Promise<void> {
    if (!this.subscription) throw new Error('the cluster projection is not started');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const cause = this.lastError === undefined ? '' : `: ${String(this.lastError)}`;
        reject(new Error(`the cluster list did not catch up with the event store in ${timeoutMs / 1000} s${cause}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([this.subscription.caughtUp(), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
  }

  /**
   * Call `listener` with every event folded from now on (of every stream, committed order), until
   * the returned function is called: a route waits for an outcome this way (LISTEN/NOTIFY, no polling).
   */
  listen(listener: (e: EventEnvelope) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The cluster with that id, as folded so far (call `caughtUp()` first to include recent commands). */
  get(clusterId: string): ClusterSummary | undefined {
    return this.clusters.get(clusterId)?.summary;
  }

  /** The live (not deleted) cluster of that name in the account, else the most recent deleted one. */
  byName(name: string, accountId = 'default', includeDeleted = false): ClusterSummary | undefined {
    const rows = this.rows().filter((c) => c.name === name && c.accountId === accountId);
    const live = rows.find((c) => c.status !== 'deleted');
    if (live || !includeDeleted) return live;
    return rows.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  }

  list(accountId?: string): ClusterSummary[] {
    return this.rows()
      .filter((c) => c.status !== 'deleted' && (!accountId || c.accountId === accountId))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The cluster view (the contracts' fold of its stream) as folded so far. */
  viewOf(clusterId: string): ClusterView | undefined {
    return this.clusters.get(clusterId)?.view;
  }

  /** The operations of a cluster, oldest first. */
  operationsOf(clusterId: string): Operation[] {
    return this.clusters.get(clusterId)?.view.ops.operations ?? [];
  }

  /** An operation by id, with the cluster it acts on (deleted clusters included). */
  findOperation(operationId: string): { cluster: ClusterSummary; operation: Operation } | undefined {
    for (const { view, summary } of this.clusters.values()) {
      const operation = findOperation(view.ops, operationId);
      if (operation) return { cluster: summary, operation };
    }
    return undefined;
  }

  private rows(): ClusterSummary[] {
    return [...this.clusters.values()].map((entry) => entry.summary);
  }
}
