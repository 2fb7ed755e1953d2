import type { Command } from 'commander';
import { actorLabel, eventFilter, streamCategory, type ClusterView, type EventEnvelope } from '@pgfleet/contracts';
import { apiClient, CliError, type ApiClient } from './client.js';
import { table } from './format.js';

type Out = (human: string, json: unknown) => void;

/** `GET /v1/clusters/{name}/audit`: the cluster at an instant (folded from all its streams) and the events. */
interface Audit {
  state: Omit<ClusterView, 'version_'> & {
    streamVersion: number;
    gateways: { gateways: { gatewayId: string; host: string; port: number }[]; leader?: string; exposed: unknown };
    tls: { forced: boolean; certificatesNotAfter: string | null };
    backups: { available: { backupId: string; status: string; kind: string }[] };
  };
  events: EventEnvelope[];
}

function parseTime(value: string, flag: string): string {
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) {
    const message = `${flag} must be a date-time such as 2026-11-25T10:00:00Z, got "${value}"`;
    throw new CliError(message, 'VALIDATION_FAILED', { field: flag });
  }
  return t.toISOString();
}

export function registerHistoryCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  program
    .command('audit <name>')
    .description(
      'every event about a cluster (its nodes, backups, gateways...) in global order; with --at, its state then',
    )
    .option('--at <time>', 'ISO date-time: fold the history up to this instant')
    .option('--type <type>', 'only events of this type (several: comma-separated)')
    .option('--json')
    .action(async (name: string, o: { at?: string; type?: string; json?: boolean }) => {
      const at = o.at ? parseTime(o.at, '--at') : undefined;
      const params = new URLSearchParams({ ...(at ? { at } : {}), ...(o.type ? { type: o.type } : {}) });
      const query = params.size > 0 ? `?${params}` : '';
      const r = await apiClient().call<Audit>('GET', `/v1/clusters/${name}/audit${query}`);
      if (at) {
        const s = r.state;
        const nodes = s.nodes.map((n) => [n.nodeId, n.role, n.port, String(n.started)]);
        const gateways = s.gateways.gateways.map((g) => `${g.gatewayId} ${g.host}:${g.port}`).join(', ') || 'none';
        const available = s.backups.available.map((b) => `${b.backupId} (${b.status})`).join(', ') || 'none';
        const tls = s.tls.forced ? 'forced' : 'not forced';
        const set = Object.entries(s.parameters ?? {}).map(([k, v]) => `${k}=${v}`);
        const extensions = Object.entries(s.extensions ?? {}).map(([k, v]) => `${k} ${v}`);
        out(o)(
          `state of ${name} at ${at}: ${s.status}, plan ${s.plan ?? '-'}, leader ${s.leader ?? '-'}\n` +
            `${table(['NODE', 'ROLE', 'PORT', 'STARTED'], nodes)}\n` +
            `gateways: ${gateways} -> ${s.gateways.leader ?? '-'}; TLS ${tls}\n` +
            `backups available: ${available}\n` +
            `parameters: ${set.join(', ') || 'the plan defaults'}\n` +
            `extensions: ${extensions.join(', ') || 'none enabled'}`,
          r.state,
        );
      } else {
        const rows = r.events.map((e) => [
          e.globalPosition,
          e.occurredAt,
          e.streamId.slice(0, e.streamId.indexOf('-')),
          e.type,
          actorLabel(e.actor),
          JSON.stringify(e.data),
        ]);
        out(o)(table(['POS', 'OCCURRED', 'STREAM', 'TYPE', 'ACTOR', 'DATA'], rows), r.events);
      }
    });

  const events = program.command('events').description('the event streams');
  events
    .command('tail')
    .description('follow events as they are published on NATS (a JetStream consumer)')
    .option('--cluster <name>', 'only this cluster')
    .option('--type <type>', 'only this event type')
    .option('--since <time>', 'start from this instant (default: new events only)')
    .option('--json')
    .action(async (o: { cluster?: string; type?: string; since?: string; json?: boolean }) => {
      const api = apiClient();
      const since = o.since ? parseTime(o.since, '--since') : undefined;
      let clusterId: string | undefined;
      if (o.cluster) {
        clusterId = (await api.call<{ clusterId: string }>('GET', `/v1/clusters/${o.cluster}/audit`)).clusterId;
      }
      const { jetstream } = await import('@nats-io/jetstream');
      const { connectBus, tailEvents } = await import('@pgfleet/bus');
      const nc = await connectBus({ servers: api.natsUrl(), name: 'pgfleet-events-tail', ...(await api.natsAuth()) });
      const filter = eventFilter({ type: o.type });
      const account = api.account();
      const inScope = account === undefined ? undefined : await accountScope(api, account);
      const tail = await tailEvents({
        js: jetstream(nc),
        filter,
        since: since ? new Date(since) : undefined,
        onEvent: (e: EventEnvelope) => {
          if (clusterId && !e.streamId.endsWith(clusterId)) return;
          if (inScope && !inScope(e)) return;
          // One line per event (JSON Lines with --json), so ops tools can pipe it.
          const human = `${e.occurredAt}  ${e.streamId}  ${e.type}  ${JSON.stringify(e.data)}`;
          process.stdout.write(o.json ? `${JSON.stringify(e)}\n` : `${human}\n`);
        },
      });
      const stop = async () => {
        await tail.stop();
        await nc.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
      await new Promise(() => undefined); // until Ctrl-C: the CLI exits when an action resolves
    });
}

/**
 * What `events tail` shows when it acts on one account (an account's token, or the admin's
 * `--account`): the events of that account's clusters (those listed now, and those created while
 * it runs) and of its own billing stream; never another account's, nor any token or name stream.
 */
async function accountScope(api: ApiClient, account: string): Promise<(e: EventEnvelope) => boolean> {
  const { clusters } = await api.call<{ clusters: { clusterId: string }[] }>('GET', '/v1/clusters');
  const mine = new Set(clusters.map((c) => c.clusterId));
  return (e) => {
    const data = e.data as { clusterId?: unknown; accountId?: unknown };
    if (e.type === 'ClusterRequested' && data.accountId === account) mine.add(String(data.clusterId));
    const category = streamCategory(e.streamId);
    const id = e.streamId.slice(category.length + 1);
    if (category === 'account') return id === account;
    return category !== 'tokens' && category !== 'names' && mine.has(id);
  };
}
