import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connectBus, sendCommand, startNatsServer, type NatsServerHandle } from '@pgfleet/bus';
import { type EventData, querySubject, streamIds } from '@pgfleet/contracts';
import { createPostgresEventStore, type PostgresEventStore } from '@pgfleet/eventstore';
import { freePort, ownedTempDir, startLocalServer, type LocalServer } from '@pgfleet/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceBytes } from './domain/invoiceHash.js';

/**
 * The billing service as it runs (its built entry point, a process) against a real event store
 * and NATS, its clock started on 1 December 2026 at 00:10 UTC: at start it issues November's
 * invoice; a second process, whose ledger is rebuilt from the first event, computes the same bytes.
 */
const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');
const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

let dir: string;
let pg: LocalServer;
let store: PostgresEventStore;
let nats: NatsServerHandle;
let nc: Awaited<ReturnType<typeof connectBus>>;
let billing: ChildProcess | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const at = (iso: string) => new Date(iso);
const ready = { leader: 'node1', host: '127.0.0.1', port: 5432, database: 'app', user: 'app' };

/** A cluster created, ready, then (optionally) deleted at the given instants. */
async function cluster(id: string, accountId: string, plan: string, times: { ready: string; deleted?: string }) {
  const nodes = [{ nodeId: 'node1', role: 'leader' as const }];
  const requested = {
    clusterId: id,
    name: `db-${id}`,
    accountId,
    plan,
    version: 15 as const,
    nodes,
    secretRef: `s/${id}`,
  };
  const readyAt = at(times.ready);
  await store.appendToStream(streamIds.cluster(id), [
    { type: 'ClusterRequested', data: requested, occurredAt: new Date(readyAt.getTime() - 40_000) },
    { type: 'ClusterReady', data: ready, occurredAt: readyAt },
    ...(times.deleted ? [{ type: 'ClusterDeleted' as const, data: {}, occurredAt: at(times.deleted) }] : []),
  ]);
}

function startBilling(): ChildProcess {
  const env = {
    ...process.env,
    PGFLEET_HOME: dir,
    PGFLEET_EVENTSTORE_URL: pg.url(),
    PGFLEET_NATS_URL: nats.url,
    PGFLEET_LOG_LEVEL: 'warn',
    PGFLEET_BILLING_CLOCK_START: '2026-12-01T00:10:00Z',
  };
  return spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'inherit', 'inherit'] });
}

async function stopBilling(): Promise<void> {
  const proc = billing;
  billing = undefined;
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

async function query(name: string, body: object): Promise<Record<string, unknown>> {
  for (let attempt = 0; ; attempt++) {
    try {
      const m = await nc.request(querySubject('billing', name), JSON.stringify(body), { timeout: 2000 });
      return m.json();
    } catch (error) {
      if (attempt > 100) throw error;
      await sleep(200);
    }
  }
}

async function issuedInvoices(accountId: string): Promise<EventData<'InvoiceIssued'>[]> {
  const { events } = await store.readStream(streamIds.account(accountId));
  return events.flatMap((e) => (e.type === 'InvoiceIssued' ? [e.data] : []));
}

async function waitForInvoice(accountId: string): Promise<EventData<'InvoiceIssued'>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [first] = await issuedInvoices(accountId);
    if (first) return first;
    if (Date.now() > deadline) throw new Error(`no invoice issued for ${accountId}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is not built: npm run build -w @pgfleet/billing`);
  dir = await ownedTempDir('pgfleet-billing-');
  pg = await startLocalServer({ dataDir: join(dir, 'pg'), port: await freePort(), settings });
  store = createPostgresEventStore({ connectionString: pg.url() });
  await store.migrate();
  nats = await startNatsServer({ port: await freePort(), storeDir: join(dir, 'nats') });
  nc = await connectBus({ servers: nats.url, name: 'billing-test' });
  // October to December 2026: one cluster over the October/November boundary, one inside
  // November, one still running, and one on another account.
  await cluster('c1', 'default', 'starter-1024', { ready: '2026-10-20T08:00:00Z', deleted: '2026-11-04T17:30:15Z' });
  await cluster('c2', 'default', 'business-2048', { ready: '2026-11-12T23:59:59Z', deleted: '2026-11-13T00:00:01Z' });
  await cluster('c3', 'default', 'sandbox', { ready: '2026-11-25T10:00:00Z' });
  await cluster('c4', 'acme', 'business-4096', { ready: '2026-11-29T12:00:00Z' });
}, 120_000);

afterAll(async () => {
  await stopBilling();
  await nc?.close();
  await nats?.stop();
  await store?.close();
  await pg?.stop('immediate');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('billing rebuilt from the event store', () => {
  it('issues the months missed while it was down at start, one invoice per account and month', async () => {
    billing = startBilling();
    const october = await waitForInvoice('default');
    expect(october.month).toBe('2026-10');
    await waitForInvoice('acme');
    await sleep(500);
    // October (2 678 400 s): c1 from 20 Oct 08:00, 1 008 000 s of 3 000 cents -> 1 129.03… -> 1 129.
    // November: c1 up to 4 Nov 17:30:15, 322 215 s of 2 592 000 -> 372.93… -> 373; c2's 2 s of
    // business-2048 -> 0.0138… -> 0; c3 is a sandbox (0).
    expect((await issuedInvoices('default')).map((i) => [i.month, i.totalCents])).toEqual([
      ['2026-10', 1129],
      ['2026-11', 373],
    ]);
    expect((await issuedInvoices('acme')).map((i) => i.month)).toEqual(['2026-11']);
  });

  it('answers the issued invoice over NATS, and refuses to issue a month not over yet', async () => {
    const [, november] = await issuedInvoices('default');
    const answer = await query('Invoice', { accountId: 'default', month: '2026-11' });
    expect(answer).toMatchObject({ ok: true, status: 'issued', invoice: { hash: november!.hash } });
    const reply = await sendCommand(nc, 'billing', 'IssueInvoice', { accountId: 'default', month: '2026-12' });
    expect(reply).toMatchObject({ ok: false, code: 'MONTH_NOT_CLOSED' });
    const usage = await query('Usage', { accountId: 'default' });
    expect(usage).toMatchObject({ ok: true, status: 'running', invoice: { month: '2026-12' } });
  });

  it('a new billing process, its ledger replayed from the first event, computes byte-identical invoices', async () => {
    const before = await issuedInvoices('default');
    await stopBilling();
    billing = startBilling();
    for (const stored of [...before, ...(await issuedInvoices('acme'))]) {
      const answer = await query('Invoice', { accountId: stored.accountId, month: stored.month, recompute: true });
      expect(answer).toMatchObject({ ok: true, status: 'recomputed' });
      const recomputed = (answer as { invoice: EventData<'InvoiceIssued'> }).invoice;
      expect(invoiceBytes(recomputed)).toBe(invoiceBytes(stored));
      expect(recomputed.hash).toBe(stored.hash);
    }
    // Its start issued nothing again.
    expect(await issuedInvoices('default')).toEqual(before);
  });

  it('a late event of November leaves the issued invoice as it is; CorrectInvoice records a new one', async () => {
    const [, issued] = await issuedInvoices('default');
    // 10 s of starter-512 on 30 Nov: 1 500 × 10 / 2 592 000 = 0.0058 -> 0, one line more.
    await cluster('c5', 'default', 'starter-512', { ready: '2026-11-30T23:59:50Z', deleted: '2026-12-01T00:00:00Z' });
    await sleep(500);
    const meta = { actor: { kind: 'user' as const, id: 'tester' } };
    const data = { accountId: 'default', month: '2026-11', reason: 'c5 was recorded late' };
    const reply = await sendCommand(nc, 'billing', 'CorrectInvoice', data, meta);
    expect(reply).toMatchObject({ ok: true });
    const { events } = await store.readStream(streamIds.account('default'));
    const corrected = events.at(-1);
    expect(corrected?.type).toBe('InvoiceCorrected');
    expect(corrected?.data).toMatchObject({ replaces: issued!.hash, reason: 'c5 was recorded late', totalCents: 373 });
    expect((await issuedInvoices('default'))[1]).toEqual(issued);
    const answer = await query('Invoice', { accountId: 'default', month: '2026-11' });
    expect(answer).toMatchObject({ status: 'corrected', invoice: { lines: { length: issued!.lines.length + 1 } } });
    // Asked again, the same recomputation corrects nothing.
    await sendCommand(nc, 'billing', 'CorrectInvoice', data, meta);
    expect((await store.readStream(streamIds.account('default'))).events).toHaveLength(events.length);
  });
});
