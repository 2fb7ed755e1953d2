import type { Command } from 'commander';
import { parseWith } from '@pgfleet/contracts';
import { CreateClusterBody } from '../http/schemas.js';
import { apiClient, CliError } from './client.js';
import { table } from './format.js';

type Out = (human: string, json: unknown) => void;

interface ClusterRow {
  name: string;
  status: string;
  plan: string;
  version: number;
  leader?: string;
  nodes: number | NodeRow[];
  clusterId: string;
  failureReason?: string;
}
interface NodeRow {
  nodeId: string;
  role: string;
  state: string;
  port?: number;
  timeline?: number;
  lagBytes?: number | null;
  pid?: number;
}
interface CreateOptions {
  plan: string;
  version: string;
  account: string;
  wait: boolean;
  json?: boolean;
}
interface Audit {
  state: { status: string; failureReason?: string };
  events: AuditEvent[];
}
interface AuditEvent { type: string; occurredAt: string; streamVersion: number; data: Record<string, unknown> }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll a cluster's history until it is ready (or failed), printing each new event as progress. */
async function waitForCluster(
  name: string,
  json: boolean,
  until: (status: string) => boolean,
  timeoutMs = 600_000,
): Promise<string> {
  const api = apiClient();
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  for (;;) {
    const audit = await api.call<Audit>('GET', `/v1/clusters/${name}/audit`);
    for (const e of audit.events.slice(seen)) {
      const node = e.data.nodeId ? ` ${String(e.data.nodeId)}` : '';
      const reason = e.data.reason ? `: ${String(e.data.reason)}` : '';
      if (!json) process.stderr.write(`  ${e.occurredAt}  ${e.type}${node}${reason}\n`);
    }
    seen = audit.events.length;
    const { status, failureReason } = audit.state;
    if (until(status)) return status;
    if (status === 'failed') {
      const message = `cluster ${name} failed to provision: ${failureReason ?? 'unknown reason'}`;
      throw new CliError(message, 'PROVISIONING_FAILED');
    }
    if (Date.now() > deadline) {
      throw new CliError(`cluster ${name} is still ${status} after ${timeoutMs / 1000} s`, 'TIMEOUT');
    }
    await sleep(100);
  }
}

export function registerClusterCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const cluster = program.command('cluster').description('create, list, show, connect to and delete clusters');

  cluster
    .command('create <name>')
    .description('create a cluster and wait until it is ready')
    .requiredOption('--plan <plan>', 'plan id, e.g. sandbox, starter-512, business-1024')
    .option('--version <major>', 'PostgreSQL major version (13 or 15)', '15')
    .option('--account <id>', 'account id', 'default')
    .option('--no-wait', 'return once the request is accepted')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: CreateOptions) => {
      const input = { name, plan: o.plan, version: Number(o.version), accountId: o.account };
      const body = parseWith(CreateClusterBody, input, 'cluster');
      if (!body.ok) throw new CliError(body.rejection.message, body.rejection.code, body.rejection.details);
      const res = await apiClient().call('POST', '/v1/clusters', body.value);
      if (o.wait) await waitForCluster(name, Boolean(o.json), (s) => s === 'ready');
      const row = o.wait ? await apiClient().call<ClusterRow>('GET', `/v1/clusters/${name}`) : res;
      out(o)(o.wait ? `cluster ${name} is ready` : `cluster ${name} requested`, row);
    });

  cluster
    .command('list')
    .description('list clusters')
    .option('--json')
    .action(async (o: { json?: boolean }) => {
      const { clusters } = await apiClient().call<{ clusters: ClusterRow[] }>('GET', '/v1/clusters');
      const rows = clusters.map((c) => [
        c.name, c.status, c.plan, c.version, typeof c.nodes === 'number' ? c.nodes : c.nodes.length, c.leader,
      ]);
      const headers = ['NAME', 'STATUS', 'PLAN', 'VERSION', 'NODES', 'LEADER'];
      out(o)(table(headers, rows), clusters);
    });

  cluster
    .command('show <name>')
    .description('a cluster and its nodes: role, state, port, timeline, lag')
    .option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      type Shown = ClusterRow & { nodes: NodeRow[] | { error: string } };
      const c = await apiClient().call<Shown>('GET', `/v1/clusters/${name}`);
      const nodes = Array.isArray(c.nodes) ? c.nodes : [];
      const failure = c.failureReason ? `: ${c.failureReason}` : '';
      const head = `cluster ${c.name} (${c.clusterId}) plan ${c.plan}, PostgreSQL ${c.version}, ${c.status}${failure}`;
      const lag = (n: NodeRow) => n.lagBytes ?? (n.role === 'leader' ? '' : 'unknown');
      const rows = nodes.map((n) => [n.nodeId, n.role, n.state, n.port, n.timeline, lag(n)]);
      const body = Array.isArray(c.nodes)
        ? table(['NODE', 'ROLE', 'STATE', 'PORT', 'TL', 'LAG(bytes)'], rows)
        : (c.nodes as { error: string }).error;
      out(o)(`${head}\n${body}`, c);
    });

  cluster
    .command('url <name>')
    .description('the connection URL (with the password)')
    .option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      const r = await apiClient().call<{ url: string }>('GET', `/v1/clusters/${name}/url`);
      out(o)(r.url, r);
    });

  cluster
    .command('retry <name>')
    .description('try a failed provisioning again, from where it stopped')
    .option('--no-wait', 'return once the request is accepted')
    .option('--json')
    .action(async (name: string, o: { wait: boolean; json?: boolean }) => {
      const res = await apiClient().call('POST', `/v1/clusters/${name}/retry`);
      if (o.wait) await waitForCluster(name, Boolean(o.json), (s) => s === 'ready');
      out(o)(o.wait ? `cluster ${name} is ready` : `retry of ${name} requested`, res);
    });

  cluster
    .command('delete <name>')
    .description('stop and remove every node; the history stays for audit')
    .option('--no-wait', 'return once the request is accepted')
    .option('--json')
    .action(async (name: string, o: { wait: boolean; json?: boolean }) => {
      const res = await apiClient().call('DELETE', `/v1/clusters/${name}`);
      if (o.wait) await waitForCluster(name, Boolean(o.json), (s) => s === 'deleted');
      out(o)(o.wait ? `cluster ${name} deleted` : `deletion of ${name} requested`, res);
    });
}
