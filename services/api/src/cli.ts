#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { CliError, useGlobalOptions } from './cli/client.js';

type Out = (opts: { json?: boolean }) => (human: string, json: unknown) => void;
type Register = (program: Command, out: Out) => void;

const out: Out = (opts) => (human, json) => {
  process.stdout.write(`${opts.json ? JSON.stringify(json, null, 2) : human}\n`);
};

/**
 * The command modules, in the order their commands are listed, with the top-level commands each
 * adds to (network and HA commands are `cluster` subcommands). Only the modules of the invoked
 * command are loaded: the others' imports (the contracts' zod schemas among them) would cost
 * every start.
 */
const COMMANDS: { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ['cluster'], load: async () => (await import('./cli/clusterCommands.js')).registerClusterCommands },
  { names: ['audit', 'events'], load: async () => (await import('./cli/historyCommands.js')).registerHistoryCommands },
  { names: ['backup'], load: async () => (await import('./cli/backupCommands.js')).registerBackupCommands },
  { names: ['cluster'], load: async () => (await import('./cli/networkCommands.js')).registerNetworkCommands },
  { names: ['cluster'], load: async () => (await import('./cli/haCommands.js')).registerHaCommands },
  { names: ['cluster'], load: async () => (await import('./cli/planCommand.js')).registerPlanCommand },
  {
    names: ['cluster', 'config'],
    load: async () => (await import('./cli/maintenanceCommands.js')).registerMaintenanceCommands,
  },
  { names: ['upgrade'], load: async () => (await import('./cli/upgradeCommand.js')).registerUpgradeCommand },
  {
    names: ['extension'],
    load: async () => (await import('./cli/extensionCommands.js')).registerExtensionCommands,
  },
  { names: ['operation'], load: async () => (await import('./cli/operationCommands.js')).registerOperationCommands },
  { names: ['account'], load: async () => (await import('./cli/accountCommands.js')).registerAccountCommands },
  { names: ['billing'], load: async () => (await import('./cli/billingCommands.js')).registerBillingCommands },
  { names: ['images'], load: async () => (await import('./cli/imageCommands.js')).registerImageCommands },
  { names: ['pitr'], load: async () => (await import('./cli/pitrCommands.js')).registerPitrCommands },
  // After the module that makes `pitr` (status, backup): adds `pitr restore` to it.
  { names: ['pitr'], load: async () => (await import('./cli/pitrRestoreCommand.js')).registerPitrRestoreCommand },
];

const program = new Command('pgfleet')
  .description('pgfleet: managed PostgreSQL clusters, event-sourced')
  .option('--token <token>', 'API token (default: $PGFLEET_TOKEN, else the admin token in $PGFLEET_HOME/api-token)')
  .option('--account <id>', 'with the admin token: the account to act on (default: default)')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  .hook('preAction', () => useGlobalOptions(program.opts<{ token?: string; account?: string }>()));

/** However stuck a part is, `up` exits this long after Ctrl-C or SIGTERM. */
const STOP_DEADLINE_MS = 28_000;

program
  .command('up')
  .description('run the platform in the foreground (NATS, event store, relay, services, API)')
  .action(async () => {
    // Installed first: a Ctrl-C during the start stops what is started (nothing is restarted).
    const starting = new AbortController();
    let stop: (() => Promise<void>) | undefined;
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) return;
      stopping = true;
      // Before anything else (synchronously): every service is marked stopping, none is restarted.
      starting.abort();
      const stopped = stop?.();
      console.log(`${signal}: stopping pgfleet`);
      setTimeout(() => {
        console.log(`pgfleet did not stop within ${STOP_DEADLINE_MS / 1000} s; exiting anyway`);
        process.exit(1);
      }, STOP_DEADLINE_MS).unref();
      void stopped?.then(() => process.exit(0));
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    // Loaded only here: the platform pulls in NATS, the event store and PostgreSQL drivers.
    const { up, UpAborted } = await import('./platform/up.js');
    let platform: Awaited<ReturnType<typeof up>>;
    try {
      platform = await up(process.env, console.log, { signal: starting.signal });
    } catch (error) {
      if (error instanceof UpAborted) process.exit(0);
      throw error;
    }
    stop = platform.stop;
    if (stopping) {
      await platform.stop();
      process.exit(0);
    }
    console.log(`pgfleet is up; API at ${platform.apiUrl}. Ctrl-C stops it (clusters keep running).`);
    await new Promise(() => undefined);
  });

/** The modules that define `name`; every module for help, `help NAME` and an unknown command. */
function modulesOf(name: string | undefined): typeof COMMANDS {
  if (name === 'up') return [];
  const own = COMMANDS.filter((c) => name !== undefined && c.names.includes(name));
  return own.length > 0 ? own : COMMANDS;
}

function fail(error: unknown): never {
  const json = process.argv.includes('--json');
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) process.exit(0);
    if (json) process.stdout.write(`${JSON.stringify({ code: error.code, message: error.message })}\n`);
    process.exit(2);
  }
  const message = error instanceof Error ? error.message : String(error);
  const e = error instanceof CliError ? error : new CliError(message, 'INTERNAL');
  if (json) {
    process.stdout.write(`${JSON.stringify({ code: e.code, message: e.message, details: e.details })}\n`);
  }
  process.stderr.write(`error: ${e.message}\n`);
  process.exit(1);
}

/**
 * A command is done when its action resolves (`up` and `events tail` never do): once what it wrote
 * is flushed the CLI exits, without waiting for connections to close (NATS, HTTP keep-alive).
 */
function exitWhenWritten(): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit()));
}

/** The global options that take a value: their value is not the command's name. */
const GLOBAL_VALUE_OPTIONS = new Set(['--token', '--account']);

/** The command invoked (`cluster` in `pgfleet --token T cluster list`), if any. */
function invokedCommand(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (GLOBAL_VALUE_OPTIONS.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

async function main(): Promise<void> {
  const invoked = invokedCommand(process.argv.slice(2));
  for (const register of await Promise.all(modulesOf(invoked).map((c) => c.load()))) register(program, out);
  await program.parseAsync(process.argv);
  exitWhenWritten();
}

main().catch(fail);
