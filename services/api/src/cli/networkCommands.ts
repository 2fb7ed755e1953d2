import type { Command } from 'commander';
import { streamIds } from '@pgfleet/contracts';
import { apiClient, CliError } from './client.js';
import { type Accepted, finalReply, NO_WAIT_HELP, runLongAction, type Settle, startedLine } from './operationWait.js';

type Out = (human: string, json: unknown) => void;

interface Switched {
  result: { from: string; to: string; timeline: number };
  gatewayLeader: string | null;
}
type Options = { json?: boolean; wait: boolean };

/**
 * Send a long networking action and follow its operation: the reply it always answered with, or
 * undefined when `--no-wait` printed the operation id.
 */
async function longAction(
  name: string,
  o: Options,
  out: Out,
  path: string,
  body: unknown,
  follow: Parameters<typeof runLongAction>[2] = {},
): Promise<Accepted | undefined> {
  const action = {
    method: 'POST',
    path: `/v1/clusters/${name}/${path}`,
    body,
    name,
    wait: o.wait,
    json: Boolean(o.json),
  };
  const { accepted, end } = await runLongAction(apiClient(), action, follow);
  if (accepted.operationId && !end) {
    out(startedLine(accepted, name), accepted);
    return undefined;
  }
  return finalReply(accepted, end);
}

/** Networking commands under `pgfleet cluster`: the CA clients verify the nodes with. */
export function registerNetworkCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const cluster = program.commands.find((c) => c.name() === 'cluster') ?? program.command('cluster');

  cluster
    .command('ca <name>')
    .description("print the cluster's CA certificate (PEM) for sslmode=verify-full sslrootcert=FILE")
    .option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      const r = await apiClient().call<{ pem: string; path: string }>('GET', `/v1/clusters/${name}/ca`);
      out(o)(r.pem.trimEnd(), r);
    });

  cluster
    .command('switchover <name>')
    .description('hand leadership to a follower (default: the first one); the gateway follows')
    .option('--to <node>', 'the follower to promote, e.g. node2')
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(async (name: string, o: Options & { to?: string }) => {
      // Done when the gateways forward to the new leader, as they say on their stream (30 s at most).
      let gatewayLeader = null as string | null;
      const settle = (): Settle => ({
        observe: (e) => {
          if (e.type === 'GatewayLeaderSet') gatewayLeader = e.data.leader;
        },
        settled: (end) => gatewayLeader === end.result.to,
        timeoutMs: 30_000,
      });
      const extraStreams = (a: Accepted) => (a.clusterId ? [streamIds.gateway(a.clusterId)] : []);
      const body = o.to ? { to: o.to } : {};
      const done = await longAction(name, o, out(o), 'switchover', body, { extraStreams, settle });
      if (!done) return;
      const r = (done.operationId ? { ...done, gatewayLeader } : done) as Accepted & Switched;
      const { from, to, timeline } = r.result;
      const gateway = r.gatewayLeader ?? 'unknown yet';
      const leader = `cluster ${name}: ${to} is the leader (was ${from}, timeline ${timeline})`;
      out(o)(`${leader}; the gateway forwards to ${gateway}`, r);
    });

  cluster
    .command('tls <name>')
    .description('--force: every node accepts only TLS connections (hostssl); plaintext is refused')
    .option('--force', 'force TLS on every node')
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(async (name: string, o: Options & { force?: boolean }) => {
      if (!o.force) {
        const message = `nothing to do: pass --force to accept only TLS connections on cluster ${name}`;
        throw new CliError(message, 'VALIDATION_FAILED', { field: 'force' });
      }
      const r = await longAction(name, o, out(o), 'tls', { force: true });
      if (!r) return;
      out(o)(
        r.result?.changed
          ? `cluster ${name}: TLS is forced; plaintext connections are refused`
          : `cluster ${name}: TLS was already forced`,
        r,
      );
    });

  cluster
    .command('certs <name>')
    .description('--rotate: new node certificates from the same CA, loaded without a restart')
    .option('--rotate', 'issue and load new node certificates')
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(async (name: string, o: Options & { rotate?: boolean }) => {
      if (!o.rotate) {
        const message = `nothing to do: pass --rotate to renew the node certificates of cluster ${name}`;
        throw new CliError(message, 'VALIDATION_FAILED', { field: 'rotate' });
      }
      const r = await longAction(name, o, out(o), 'certs', { rotate: true });
      if (!r) return;
      const { nodes, notAfter } = r.result as { nodes: string[]; notAfter: string };
      out(o)(`cluster ${name}: new certificates on ${nodes.join(', ')}, valid until ${notAfter}`, r);
    });

  cluster
    .command('expose <name>')
    .description(
      'open the cluster to the outside: the gateways also listen on PGFLEET_EXPOSE_ADDRESS (needs forced TLS)',
    )
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(async (name: string, o: Options) => {
      const r = await longAction(name, o, out(o), 'expose', {});
      if (!r) return;
      const { address, port } = r.result as { address: string; port: number };
      out(o)(`cluster ${name} answers on ${address}:${port} (TLS only)`, r);
    });

  cluster
    .command('unexpose <name>')
    .description('close the cluster to the outside: the gateways listen on loopback only')
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(async (name: string, o: Options) => {
      const r = await longAction(name, o, out(o), 'unexpose', {});
      if (!r) return;
      out(o)(`cluster ${name} is reachable from this host only`, r);
    });
}
