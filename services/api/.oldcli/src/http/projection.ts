import type { EventEnvelope } from '@pgfleet/contracts';
import type { Checkpoint, EventStore } from '@pgfleet/eventstore';

/** One row of the cluster list, folded from `cluster-*` events. */
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

export function applyToSummaries(map: Map<string, ClusterSummary>, e: EventEnvelope): void {
  if (!e.streamId.startsWith('cluster-')) return;
  if (e.type === 'ClusterRequested') {
    const d = e.data;
    map.set(d.clusterId, {
      clusterId: d.clusterId, name: d.name, accountId: d.accountId, plan: d.plan, version: d.version,
      status: 'provisioning', leader: d.nodes.find((n) => n.role === 'leader')?.nodeId, nodes: d.nodes.length,
      createdAt: e.occurredAt, updatedAt: e.occurredAt, streamVersion: e.streamVersion,
    });
    return;
  }
  const row = map.get(e.streamId.slice('cluster-'.length));
  if (!row) return;
  row.updatedAt = e.occurredAt;
  row.streamVersion = e.streamVersion;
  switch (e.type) {
    case 'ClusterReady': row.status = 'ready'; row.leader = e.data.leader; row.failureReason = undefined; break;
    case 'ClusterProvisioningFailed': row.status = 'failed'; row.failureReason = e.data.reason; break;
    case 'ClusterProvisioningRetried': row.status = 'provisioning'; row.failureReason = undefined; break;
    case 'ClusterDeletionRequested': row.status = 'deleting'; break;
    case 'ClusterDeleted': row.status = 'deleted'; break;
    case 'LeaderChanged': row.leader = e.data.to; break;
    default: break;
  }
}

/**
 * The cluster list as a projection: rebuilt from the whole event store at start, then brought up
 * to date on demand (every request that reads it catches up first), so it never polls while idle.
 * In memory: it is cheap to rebuild.
 */
export class ClusterProjection {
  readonly clusters = new Map<string, ClusterSummary>();
  private checkpoint: Checkpoint = null;
  /** Catch-ups run one after another: each caller's read starts after its call, none apply a page twice. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly store: EventStore) {}

  /** Read everything committed so far: what the projection holds at start. */
  start(): Promise<void> {
    return this.catchUp();
  }

  catchUp(): Promise<void> {
    const run = this.queue.then(() => this.readToEnd());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async readToEnd(): Promise<void> {
    for (;;) {
      const page = await this.store.readAll({ after: this.checkpoint, limit: 5000 });
      for (const e of page.events) applyToSummaries(this.clusters, e);
      this.checkpoint = page.checkpoint;
      if (page.events.length < 5000) return;
    }
  }

  /** Resolves once no catch-up is in flight. */
  async stop(): Promise<void> {
    await this.queue;
  }

  /** The live (not deleted) cluster of that name in the account, else the most recent deleted one. */
  byName(name: string, accountId = 'default', includeDeleted = false): ClusterSummary | undefined {
    const rows = [...this.clusters.values()].filter((c) => c.name === name && c.accountId === accountId);
    return rows.find((c) => c.status !== 'deleted') ?? (includeDeleted ? rows.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0] : undefined);
  }

  list(accountId?: string): ClusterSummary[] {
    return [...this.clusters.values()].filter((c) => c.status !== 'deleted' && (!accountId || c.accountId === accountId))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
