import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { foldClusterView, runtimeNodeId, streamIds, type ClusterView } from '@pgfleet/contracts';
import { createPostgresEventStore } from '@pgfleet/eventstore';
import { nodeDataDirs, psql, startPlatform, waitFor, type TestPlatform } from '../../e2e/harness.js';
import type { FailoverTarget } from './target.js';

/**
 * pgfleet as the failover benchmark sees it: the whole platform (`pgfleet up` in a temporary home:
 * NATS, the event store, the services with the HA service, the gateways), one Business cluster made
 * with the CLI, its URL as `pgfleet cluster url` gives it out. Nobody acts on it between kills: the
 * HA service fails over and rejoins by itself.
 */
export async function startPgfleet(
  onCleanup: (close: () => Promise<void>) => void = () => undefined,
): Promise<FailoverTarget> {
  return (await startPgfleetCluster(onCleanup)).target;
}

/** The platform under a target: what a chaos run kills besides the leader. */
export interface PgfleetCluster {
  target: FailoverTarget;
  platform: TestPlatform;
  clusterId: string;
  view(): Promise<ClusterView>;
  /** The postmaster pid of one node. */
  postmasterPid(nodeId: string): number;
}

export async function startPgfleetCluster(
  onCleanup: (close: () => Promise<void>) => void = () => undefined,
): Promise<PgfleetCluster> {
  // BENCH_PGFLEET_LOG_LEVEL=info shows the platform's logs (each failover step with its duration).
  const level = process.env.BENCH_PGFLEET_LOG_LEVEL;
  const t = await startPlatform(level ? { PGFLEET_LOG_LEVEL: level } : {});
  const store = createPostgresEventStore({ connectionString: t.platform.eventstoreUrl });
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      await store.close().catch(() => undefined);
      await t.cleanup();
    })();
    return closed;
  };
  onCleanup(close); // a Ctrl-C while the cluster is being made removes it too
  try {
    const created = await t.cli('cluster', 'create', 'bench', '--plan', 'business-1024', '--no-wait', '--json');
    if (created.code !== 0) throw new Error(`cluster create failed: ${created.stderr}`);
    const clusterId = (JSON.parse(created.stdout) as { result: { clusterId: string } }).result.clusterId;
    const view = async (): Promise<ClusterView> =>
      foldClusterView((await store.readStream(streamIds.cluster(clusterId))).events);
    await waitFor('the cluster to be ready', async () => (await view()).status === 'ready' || undefined, 300_000);
    const url = await waitFor(
      'its URL',
      async () => {
        const r = await t.cli('cluster', 'url', 'bench');
        return r.code === 0 ? r.stdout.trim() : undefined;
      },
      60_000,
    );
    const postmasterPid = (nodeId: string) => {
      const dir = nodeDataDirs(t.home, clusterId).find((d) => d.includes(`${runtimeNodeId(clusterId, nodeId)}/`));
      if (!dir) throw new Error(`no data directory for ${nodeId}`);
      return Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    };
    const target: FailoverTarget = {
      name: 'pgfleet (ha service defaults)',
      url,
      leaderPid: async () => postmasterPid((await view()).leader!),
      async waitHealthy(timeoutMs) {
        await waitFor(
          'three healthy nodes, none fenced, no operation running, a write through the URL',
          async () => {
            const v = await view();
            if (v.ops.running || !v.nodes.every((n) => n.health === 'healthy' && !n.fenced)) return undefined;
            try {
              psql(url, 'SELECT 1');
              return true;
            } catch {
              return undefined;
            }
          },
          timeoutMs,
        );
      },
      interventions: () => [],
      close,
    };
    return { target, platform: t, clusterId, view, postmasterPid };
  } catch (error) {
    await close();
    throw error;
  }
}
