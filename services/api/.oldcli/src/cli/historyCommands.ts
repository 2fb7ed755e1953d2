import type { Command } from 'commander';
import { eventFilter, type EventEnvelope } from '@pgfleet/contracts';
import { apiClient, CliError } from './client.js';
import { table } from './format.js';

type Out = (human: string, json: unknown) => void;

function parseTime(value: string, flag: string): string {
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) throw new CliError(`${flag} must be a date-time such as 2026-11-25T10:00:00Z, got "${value}"`, 'VALIDATION_FAILED', { field: flag });
  return t.toISOString();
}

export function registerHistoryCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  program.command('audit <name>').description("a cluster's events; with --at, its state at that instant")
    .option('--at <time>', 'ISO date-time: fold the history up to this instant').option('--json')
    .action(async (name: string, o: { at?: string; json?: boolean }) => {
      const at = o.at ? parseTime(o.at, '--at') : undefined;
      const r = await apiClient().call<{ state: Record<string, unknown>; events: EventEnvelope[] }>('GET', `/v1/clusters/${name}/audit${at ? `?at=${encodeURIComponent(at)}` : ''}`);
      if (at) {
        const s = r.state as { status: string; plan?: string; leader?: string; nodes: { nodeId: string; role: string; port?: number; started: boolean }[] };
        out(o)(`state of ${name} at ${at}: ${s.status}, plan ${s.plan ?? '-'}, leader ${s.leader ?? '-'}\n` +
          table(['NODE', 'ROLE', 'PORT', 'STARTED'], s.nodes.map((n) => [n.nodeId, n.role, n.port, String(n.started)])), r.state);
      } else {
        out(o)(table(['#', 'OCCURRED', 'TYPE', 'ACTOR', 'DATA'], r.events.map((e) => [e.streamVersion, e.occurredAt, e.type, `${e.actor.kind}:${e.actor.id}`, JSON.stringify(e.data)])), r.events);
      }
    });

  const events = program.command('events').description('the event streams');
  events.command('tail').description('follow events as they are published on NATS (a JetStream consumer)')
    .option('--cluster <name>', 'only this cluster').option('--type <type>', 'only this event type')
    .option('--since <time>', 'start from this instant (default: new events only)').option('--json')
    .action(async (o: { cluster?: string; type?: string; since?: string; json?: boolean }) => {
      const api = apiClient();
      const since = o.since ? parseTime(o.since, '--since') : undefined;
      let clusterId: string | undefined;
      if (o.cluster) clusterId = (await api.call<{ clusterId: string }>('GET', `/v1/clusters/${o.cluster}/audit`)).clusterId;
      const { jetstream } = await import('@nats-io/jetstream');
      const { connectBus, tailEvents } = await import('@pgfleet/bus');
      const nc = await connectBus({ servers: api.natsUrl(), name: 'pgfleet-events-tail', ...(await api.natsAuth()) });
      const filter = eventFilter({ type: o.type });
      const tail = await tailEvents({
        js: jetstream(nc), filter, since: since ? new Date(since) : undefined,
        onEvent: (e: EventEnvelope) => {
          if (clusterId && !e.streamId.endsWith(clusterId)) return;
          // One line per event (JSON Lines with --json), so ops tools can pipe it.
          process.stdout.write(o.json ? `${JSON.stringify(e)}\n` : `${e.occurredAt}  ${e.streamId}  ${e.type}  ${JSON.stringify(e.data)}\n`);
        },
      });
      const stop = async () => { await tail.stop(); await nc.close(); process.exit(0); };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });
}
