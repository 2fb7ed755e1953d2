import type { Command } from 'commander';
import { apiClient } from './client.js';
import { table } from './format.js';
import { finalReply, NO_WAIT_HELP, runLongAction, startedLine } from './operationWait.js';

type Out = (human: string, json: unknown) => void;

interface ExtensionRow {
  name: string;
  status: 'enabled' | 'available';
  version: string;
  preload: boolean;
  summary: string;
}

interface ExtensionResult {
  extension?: string;
  version?: string;
  restarted?: boolean;
  nodes?: string[];
}

/** How a preloaded library was (un)loaded: with a rolling restart of the nodes, or without one. */
const restartNote = (r: ExtensionResult | undefined) =>
  r?.restarted ? `; shared_preload_libraries changed, nodes restarted one by one (${(r.nodes ?? []).join(', ')})` : '';

/**
 * `pgfleet extension list|enable|disable NAME [EXT]`: the extensions of an allow-list, created and
 * dropped by the platform in the app database as operations (steps print as they complete, on
 * stderr); one whose library is preloaded (pg_stat_statements) restarts the nodes one by one.
 */
export function registerExtensionCommands(program: Command, out: (opts: { json?: boolean }) => Out): void {
  const extension = program.command('extension').description('PostgreSQL extensions of a cluster (an allow-list)');
  extension
    .command('list <name>')
    .description('the extensions you may enable: enabled (its version) or available')
    .option('--json')
    .action(async (name: string, o: { json?: boolean }) => {
      const path = `/v1/clusters/${name}/extensions`;
      const r = await apiClient().call<{ version: number; extensions: ExtensionRow[] }>('GET', path);
      const rows = r.extensions.map((e) => [e.name, e.status, e.version, e.preload ? 'restart' : '', e.summary]);
      const head = `${name} (PostgreSQL ${r.version})`;
      out(o)(`${head}\n${table(['EXTENSION', 'STATUS', 'VERSION', 'PRELOAD', 'WHAT'], rows)}`, r);
    });

  const change = (verb: 'enable' | 'disable', description: string) =>
    extension
      .command(`${verb} <name> <extension>`)
      .description(description)
      .option('--no-wait', NO_WAIT_HELP)
      .option('--json')
      .action(async (name: string, ext: string, o: { wait: boolean; json?: boolean }) => {
        const action =
          verb === 'enable'
            ? { method: 'POST', path: `/v1/clusters/${name}/extensions`, body: { name: ext } }
            : { method: 'DELETE', path: `/v1/clusters/${name}/extensions/${encodeURIComponent(ext)}` };
        const { accepted, end } = await runLongAction(apiClient(), { ...action, name, wait: o.wait, json: !!o.json });
        if (accepted.operationId && !end) {
          out(o)(startedLine(accepted, name), accepted);
          return;
        }
        const r = finalReply(accepted, end);
        const result = r.result as ExtensionResult | undefined;
        const line =
          verb === 'enable'
            ? `${ext} ${result?.version ?? ''} enabled on ${name} (in its app database)${restartNote(result)}`
            : `${ext} disabled on ${name} (dropped from its app database)${restartNote(result)}`;
        out(o)(line, r);
      });
  change('enable', 'create an extension in the app database (pg_stat_statements: with a rolling restart)');
  change('disable', 'drop an extension from the app database (never CASCADE: objects using it make it fail)');
}
