import { type Command, Option } from 'commander';
import { Durability, parseWith } from '@pgfleet/contracts';
import type { ClusterShown } from '../http/clusterShown.js';
import { CreateClusterBody } from '../http/schemas.js';
import { apiClient, CliError } from './client.js';
import { renderCluster } from './clusterShow.js';
import { clusterAction, waitForCluster } from './clusterWait.js';
import { requestTime } from './followEvents.js';
import { table } from './format.js';
import { NO_WAIT_HELP, startedLine } from './operationWait.js';

type Out = (human: string, json: unknown) => void;

interface ClusterRow {
  name: string;
  status: string;
  plan: string;
  version: number;
  leader?: string;
  nodes: number | unknown[];
  clusterId: string;
  failureReason?: string;
}
interface CreateOptions {
  plan: string;
  version: string;
  durability: string;
  wait: boolean;
  json?: boolean;
}
export function registerClusterCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const cluster = program.command('cluster').description('create, list, show, connect to and delete clusters');

  cluster
    .command('create <name>')
    .description('create a cluster and wait until it is ready')
    .requiredOption('--plan <plan>', 'plan id, e.g. sandbox, starter-512, business-1024')
    .option('--version <major>', 'PostgreSQL major version (13 or 15)', '15')
    .addOption(
      new Option(
        '--durability <mode>',
        'with no follower in sync: strict makes writes wait, available lets the leader go asynchronous',
      )
        .choices(Durability.options)
        .default('available'),
    )
    .option('--no-wait', 'return once the request is accepted')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: CreateOptions) => {
      const api = apiClient();
      // The account: `--account` (admin), an account token's own, else the API's default.
      const input = {
        name,
        plan: o.plan,
        version: Number(o.version),
        accountId: api.account(),
        durability: o.durability,
      };
      const body = parseWith(CreateClusterBody, input, 'cluster');
      if (!body.ok) throw new CliError(body.rejection.message, body.rejection.code, body.rejection.details);
      const since = requestTime();
      const res = await api.call<{ result: { clusterId: string } }>('POST', '/v1/clusters', body.value);
      if (o.wait) {
        const w = { name, clusterId: res.result.clusterId, since, quiet: Boolean(o.json) };
        await waitForCluster(api, w, 'ready');
        // Ready means reachable: its gateways serve the URL (they start a moment after the nodes).
        const url = await api.call('GET', `/v1/clusters/${name}/url`).catch(() => undefined);
        if (!url) process.stderr.write(`its gateway does not serve yet: see "pgfleet cluster url ${name}"\n`);
      }
      const row = o.wait ? await api.call<ClusterRow>('GET', `/v1/clusters/${name}`) : res;
      out(o)(o.wait ? `cluster ${name} is ready` : `cluster ${name} requested`, row);
    });

  cluster
    .command('list')
    .description('list clusters')
    .option('--json')
    .action(async (o: { json?: boolean }) => {
      const { clusters } = await apiClient().call<{ clusters: ClusterRow[] }>('GET', '/v1/clusters');
      const rows = clusters.map((c) => [
        c.name,
        c.status,
        c.plan,
        c.version,
        typeof c.nodes === 'number' ? c.nodes : c.nodes.length,
        c.leader,
      ]);
      const headers = ['NAME', 'STATUS', 'PLAN', 'VERSION', 'NODES', 'LEADER'];
      out(o)(table(headers, rows), clusters);
    });

  cluster
    .command('show <name>')
    .description('nodes (health, lag, timeline, sync role, fenced), durability and last failover of a cluster')
    .option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      const c = await apiClient().call<ClusterShown>('GET', `/v1/clusters/${name}`);
      out(o)(renderCluster(c), c);
    });

  cluster
    .command('url <name>')
    .description('the connection URL (with the password)')
    .option('--readonly', 'the read-only URL instead: the followers, round robin (pg_is_in_recovery() there)')
    .option('--json')
    .action(async (name: string, o: { json?: boolean; readonly?: boolean }) => {
      const query = o.readonly ? '?readonly=true' : '';
      const r = await apiClient().call<{ url: string }>('GET', `/v1/clusters/${name}/url${query}`);
      out(o)(r.url, r);
    });

  cluster
    .command('retry <name>')
    .description('try a failed provisioning again, from where it stopped')
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(async (name: string, o: { wait: boolean; json?: boolean }) => {
      const request = { method: 'POST', path: `/v1/clusters/${name}/retry` };
      const res = await clusterAction(apiClient(), name, o, request, 'ready');
      const requested = res.operationId ? startedLine(res, name) : `retry of ${name} requested`;
      out(o)(o.wait ? `cluster ${name} is ready` : requested, res);
    });

  cluster
    .command('delete <name>')
    .description('stop and remove every node; the history stays for audit')
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(async (name: string, o: { wait: boolean; json?: boolean }) => {
      const request = { method: 'DELETE', path: `/v1/clusters/${name}` };
      const res = await clusterAction(apiClient(), name, o, request, 'deleted');
      const requested = res.operationId ? startedLine(res, name) : `deletion of ${name} requested`;
      if (!o.wait) return out(o)(requested, res);
      // Its passwords and private keys went with it; its backups and PITR archive are kept for a while.
      const [archive, backups] = await Promise.all([
        (await import('./pitrArchiveNote.js')).archiveNote(apiClient(), name),
        (await import('./deletedBackupsNote.js')).backupsNote(apiClient(), name),
      ]);
      const retained = {
        ...(backups.retainedUntil ? { backupsRetainedUntil: backups.retainedUntil } : {}),
        ...(archive.retainedUntil ? { pitrArchiveRetainedUntil: archive.retainedUntil } : {}),
      };
      const removed = '; its passwords and private keys are removed';
      out(o)(`cluster ${name} deleted${removed}${backups.note}${archive.note}`, { ...res, ...retained });
    });
}
