import type { Command } from 'commander';
import { apiClient, CliError } from './client.js';

type Out = (human: string, json: unknown) => void;

/** Networking commands under `pgfleet cluster`: the CA clients verify the nodes with. */
export function registerNetworkCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const cluster = program.commands.find((c) => c.name() === 'cluster') ?? program.command('cluster');

  cluster.command('ca <name>').description("print the cluster's CA certificate (PEM) for sslmode=verify-full sslrootcert=FILE").option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      const r = await apiClient().call<{ pem: string; path: string }>('GET', `/v1/clusters/${name}/ca`);
      out(o)(r.pem.trimEnd(), r);
    });

  cluster.command('switchover <name>').description('hand leadership to a follower (default: the first one); the gateway follows')
    .option('--to <node>', 'the follower to promote, e.g. node2').option('--json')
    .action(async (name: string, o: { to?: string; json?: boolean }) => {
      const r = await apiClient().call<{ result: { from: string; to: string; timeline: number }; gatewayLeader: string | null }>(
        'POST', `/v1/clusters/${name}/switchover`, o.to ? { to: o.to } : {});
      out(o)(`cluster ${name}: ${r.result.to} is the leader (was ${r.result.from}, timeline ${r.result.timeline}); the gateway forwards to ${r.gatewayLeader ?? 'unknown yet'}`, r);
    });

  cluster.command('tls <name>').description('--force: every node accepts only TLS connections (hostssl); plaintext is refused')
    .option('--force', 'force TLS on every node').option('--json')
    .action(async (name: string, o: { force?: boolean; json?: boolean }) => {
      if (!o.force) throw new CliError('nothing to do: pass --force to accept only TLS connections on cluster ' + name, 'VALIDATION_FAILED', { field: 'force' });
      const r = await apiClient().call<{ result: { changed: boolean } }>('POST', `/v1/clusters/${name}/tls`, { force: true });
      out(o)(r.result.changed ? `cluster ${name}: TLS is forced; plaintext connections are refused` : `cluster ${name}: TLS was already forced`, r);
    });

  cluster.command('certs <name>').description('--rotate: new node certificates from the same CA, loaded without a restart')
    .option('--rotate', 'issue and load new node certificates').option('--json')
    .action(async (name: string, o: { rotate?: boolean; json?: boolean }) => {
      if (!o.rotate) throw new CliError('nothing to do: pass --rotate to renew the node certificates of cluster ' + name, 'VALIDATION_FAILED', { field: 'rotate' });
      const r = await apiClient().call<{ result: { nodes: string[]; notAfter: string } }>('POST', `/v1/clusters/${name}/certs`, { rotate: true });
      out(o)(`cluster ${name}: new certificates on ${r.result.nodes.join(', ')}, valid until ${r.result.notAfter}`, r);
    });

  cluster.command('expose <name>').description('open the cluster to the outside: the gateways also listen on PGFLEET_EXPOSE_ADDRESS (needs forced TLS)')
    .option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      const r = await apiClient().call<{ result: { address: string; port: number; changed: boolean } }>('POST', `/v1/clusters/${name}/expose`, {});
      out(o)(`cluster ${name} answers on ${r.result.address}:${r.result.port} (TLS only)`, r);
    });

  cluster.command('unexpose <name>').description('close the cluster to the outside: the gateways listen on loopback only')
    .option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      const r = await apiClient().call('POST', `/v1/clusters/${name}/unexpose`, {});
      out(o)(`cluster ${name} is reachable from this host only`, r);
    });
}
