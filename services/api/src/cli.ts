#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerBackupCommands } from './cli/backupCommands.js';
import { CliError } from './cli/client.js';
import { registerClusterCommands } from './cli/clusterCommands.js';
import { registerHaCommands } from './cli/haCommands.js';
import { registerHistoryCommands } from './cli/historyCommands.js';
import { registerNetworkCommands } from './cli/networkCommands.js';
import { registerOperationCommands } from './cli/operationCommands.js';

const out = (opts: { json?: boolean }) => (human: string, json: unknown) => {
  process.stdout.write(`${opts.json ? JSON.stringify(json, null, 2) : human}\n`);
};

const program = new Command('pgfleet')
  .description('pgfleet: managed PostgreSQL clusters, event-sourced')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

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

registerClusterCommands(program, out);
registerHistoryCommands(program, out);
registerBackupCommands(program, out);
registerNetworkCommands(program, out);
registerHaCommands(program, out);
registerOperationCommands(program, out);

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

program.parseAsync(process.argv).catch(fail);
