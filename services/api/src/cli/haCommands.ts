import { Argument, type Command } from 'commander';
import { Durability } from '@pgfleet/contracts';
import { apiClient } from './client.js';
import { followLeaderChange } from './leaderWait.js';
import { finalReply, NO_WAIT_HELP, runLongAction, startedLine } from './operationWait.js';

type Out = (human: string, json: unknown) => void;

/** What each durability means, in the words `durability` prints. */
const MEANING: Record<Durability, string> = {
  strict: 'with no follower in sync, writes wait until one is back',
  available: 'with no follower in sync, the leader goes asynchronous until one is back',
};

const named = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value) : undefined);

/** High-availability commands under `pgfleet cluster`: failover and durability (the `ha` service). */
export function registerHaCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const cluster = program.commands.find((c) => c.name() === 'cluster') ?? program.command('cluster');

  cluster
    .command('failover <name>')
    .description('promote a follower of a cluster whose leader is lost, fencing the old leader first')
    .option('--to <node>', 'the follower to promote (default: the most advanced one), e.g. node2')
    .option(
      '--accept-data-loss',
      'promote even a follower that may miss acknowledged commits (durability available, no follower in sync)',
    )
    .option('--no-wait', NO_WAIT_HELP)
    .option('--json')
    .action(async (name: string, o: { to?: string; acceptDataLoss?: boolean; wait: boolean; json?: boolean }) => {
      const body = { ...(o.to ? { to: o.to } : {}), acceptDataLoss: Boolean(o.acceptDataLoss) };
      const path = `/v1/clusters/${name}/failover`;
      const action = { method: 'POST', path, body, name, wait: o.wait, json: Boolean(o.json) };
      const leader = followLeaderChange();
      const { accepted, end } = await runLongAction(apiClient(), action, leader);
      if (accepted.operationId && !end) {
        out(o)(startedLine(accepted, name), accepted);
        return;
      }
      const r = { ...finalReply(accepted, end), gatewayLeader: leader.gatewayLeader() };
      // What the operation answered, else what the leader change on the cluster stream said.
      const changed = leader.leaderChanged();
      const to = named(r.result?.to) ?? changed?.to;
      const from = named(r.result?.from) ?? changed?.from;
      const term = named(r.result?.term) ?? named(changed?.term);
      const timeline = named(r.result?.timeline) ?? named(changed?.timeline);
      const was = [from && `was ${from}`, term && `term ${term}`, timeline && `timeline ${timeline}`].filter(Boolean);
      const leaderLine = to
        ? `cluster ${name}: ${to} is the leader after a failover${was.length > 0 ? ` (${was.join(', ')})` : ''}`
        : `cluster ${name}: failover done`;
      out(o)(`${leaderLine}; the gateway forwards to ${r.gatewayLeader ?? 'unknown yet'}`, r);
    });

  cluster
    .command('durability')
    .description('with no follower in sync, strict makes writes wait; available (default) goes async')
    .argument('<name>', 'the cluster')
    .addArgument(new Argument('<mode>', 'strict or available').choices(Durability.options))
    .option('--json')
    .action(async (name: string, mode: Durability, o: { json?: boolean }) => {
      const path = `/v1/clusters/${name}/durability`;
      const r = await apiClient().call<{ durability: Durability }>('PUT', path, { durability: mode });
      out(o)(`cluster ${name}: durability ${r.durability} (${MEANING[r.durability]})`, r);
    });
}
