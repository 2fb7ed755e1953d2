import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { createPostgresEventStore } from '@pgfleet/eventstore';
import { benchAppend } from './append.js';
import { benchCatchUp } from './catchUp.js';
import { benchConfig } from './config.js';
import { benchLatency } from './latency.js';
import { log, renderTable, type Figure } from './report.js';
import { PG_SETTINGS, startBenchServers } from './servers.js';

/**
 * The event store benchmark: append throughput, catch-up read throughput and append -> JetStream
 * consumer latency of pgfleet, each beside a raw baseline measured in the same run against the
 * same PostgreSQL and nats-server (started here on free ports, removed at the end).
 */
export async function runEventstoreBench(): Promise<void> {
  const config = benchConfig();
  const loadBefore = loadNow();
  log(`starting PostgreSQL and nats-server (sizes: ${JSON.stringify(config)})`);
  const servers = await startBenchServers();
  try {
    const connectionString = servers.pg.url('postgres');
    const serverVersion = await queryOne(connectionString, 'SHOW server_version');
    const figures: Figure[] = [];
    const notes: string[] = [];

    const { runs, only } = config;
    if (only.has('append')) {
      const store = createPostgresEventStore({ connectionString, poolSize: 10 });
      try {
        figures.push(...(await benchAppend({ store, connectionString, seconds: config.appendSeconds, runs })));
      } finally {
        await store.close();
      }
    }
    if (only.has('catch-up')) {
      const catchUp = await benchCatchUp({
        connectionString,
        events: config.catchUpEvents,
        pageSize: config.pageSize,
        runs,
      });
      figures.push(catchUp.figure);
      notes.push(catchUp.correctness);
    }
    if (only.has('latency')) {
      const natsUrl = servers.nats.url;
      const latency = await benchLatency({
        connectionString,
        natsUrl,
        rate: config.latencyRate,
        seconds: config.latencySeconds,
        runs,
      });
      figures.push(...latency.figures);
      notes.push(...latency.notes);
    }

    const durability = [
      'fsync',
      'synchronous_commit',
      'full_page_writes',
      'wal_sync_method',
      'shared_buffers',
      'max_wal_size',
    ]
      .map((k) => `${k}=${String(PG_SETTINGS[k]).replaceAll("'", '')}`)
      .join(', ');
    console.log(
      [
        '',
        'pgfleet event store benchmark',
        `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
        `PostgreSQL ${serverVersion} on 127.0.0.1 (${durability}); ${servers.natsVersion} (JetStream file storage)`,
        `sizes: append ${config.appendSeconds} s per figure; ` +
          `catch-up ${config.catchUpEvents} events, pages of ${config.pageSize}; ` +
          `latency ${config.latencyRate} ev/s for ${config.latencySeconds} s; ` +
          `${runs} run(s) of each figure, side by side`,
        `load: ${loadBefore} before, ${loadNow()} after (1/5/15 min load averages)`,
        'raw baselines: plain multi-row INSERT / keyset SELECT of the same rows in a plain table ' +
          '(bigserial key only) of the same database;',
        '               raw JetStream publish -> durable pull consumer of the same envelope JSON at the same rate',
        runs > 1
          ? 'cells: median [min - max] over the runs; ratio taken run by run; targets checked on the medians'
          : '',
        '',
        renderTable(figures),
        '',
        ...notes,
        '',
      ].join('\n'),
    );
  } finally {
    log('stopping servers and removing temporary directories');
    await servers.cleanup();
  }
}

/** The 1, 5 and 15 minute load averages: other work on the machine skews every figure. */
function loadNow(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

async function queryOne(connectionString: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, string>>(sql);
    return Object.values(rows[0] ?? {})[0] ?? 'unknown';
  } finally {
    await client.end();
  }
}
