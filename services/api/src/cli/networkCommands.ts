import type { Command } from 'commander';
import { apiClient } from './client.js';

type Out = (human: string, json: unknown) => void;

/** Networking commands under `pgfleet cluster`: the CA clients verify the nodes with. */
export function registerNetworkCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const cluster = program.commands.find((c) => c.name() === 'cluster') ?? program.command('cluster');

  cluster.command('ca <name>').description("print the cluster's CA certificate (PEM) for sslmode=verify-full sslrootcert=FILE").option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      const r = await apiClient().call<{ pem: string; path: string }>('GET', `/v1/clusters/${name}/ca`);
      out(o)(r.pem.trimEnd(), r);
    });
}
