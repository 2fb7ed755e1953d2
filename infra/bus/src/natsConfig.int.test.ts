import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { EVENTS_STREAM } from '@pgfleet/contracts';
import { createClusterCa, freePort, issueNodeCert, ownedTempDir } from '@pgfleet/postgres';
import { sendCommand } from './commands.js';
import { connectBus } from './connect.js';
import { consumeEvents } from './consumer.js';
import { ensureEventsStream } from './eventsStream.js';
import { platformNatsUser, renderNatsConfig } from './natsConfig.js';
import { startNatsServer, type NatsServerHandle } from './natsServer.js';
import { publishEvent } from './publishEvent.js';
import { tailEvents } from './tail.js';
import { storedEvent } from './testing/harness.js';

let dir: string;
let server: NatsServerHandle;
let caFile: string;
const passwords = {
  platform: 'platform-secret-1',
  provisioning: 'provisioning-secret-2',
  backup: 'backup-secret-3',
  cli: 'cli-secret-4',
};
type User = keyof typeof passwords;
const open: NatsConnection[] = [];

beforeAll(async () => {
  dir = await ownedTempDir('pgfleet-nats-tls-');
  const ca = await createClusterCa(join(dir, 'ca'), 'pgfleet-nats');
  const cert = await issueNodeCert({
    caDir: join(dir, 'ca'),
    outDir: join(dir, 'server'),
    commonName: 'nats',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  caFile = ca.certFile;
  const port = await freePort();
  mkdirSync(join(dir, 'js'), { recursive: true });
  const configFile = join(dir, 'nats.conf');
  writeFileSync(
    configFile,
    renderNatsConfig({
      host: '127.0.0.1',
      port,
      storeDir: join(dir, 'js'),
      tls: { certFile: cert.certFile, keyFile: cert.keyFile },
      users: Object.entries(passwords).map(([user, password]) => platformNatsUser(user, password)),
    }),
    { mode: 0o600 },
  );
  server = await startNatsServer({ port, storeDir: join(dir, 'js'), configFile });
  const jsm = await jetstreamManager(await as('platform'));
  await ensureEventsStream(jsm);
});
afterAll(async () => {
  await Promise.allSettled(open.map((nc) => nc.close()));
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const url = () => `tls://127.0.0.1:${server.port}`;

async function as(user: User): Promise<NatsConnection> {
  const nc = await connectBus({ servers: url(), name: user, tls: { caFile }, user, pass: passwords[user] });
  open.push(nc);
  return nc;
}

const storedEvents = async () =>
  (await (await jetstreamManager(await as('platform'))).streams.info(EVENTS_STREAM)).state.messages;

/** Resolves with the error the server sends for a refused subscription (or undefined if it is accepted). */
async function subscribeOutcome(nc: NatsConnection, subject: string): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const sub = nc.subscribe(subject, { callback: (error) => resolve(error ?? undefined) });
    void nc.flush().then(() => setTimeout(() => (sub.isClosed() ? undefined : resolve(undefined)), 500));
  });
}

describe('the embedded NATS server: TLS, one user per process, least privilege', () => {
  it('refuses a client that does not trust the platform CA, one without credentials, a wrong password', async () => {
    const attempt = (opts: { tls?: { caFile: string }; user?: string; pass?: string }) =>
      connectBus({ servers: url(), name: 't', waitOnFirstConnect: false, ...opts });
    await expect(attempt({ user: 'platform', pass: passwords.platform })).rejects.toThrow();
    await expect(attempt({ tls: { caFile } })).rejects.toThrow(/auth/i);
    await expect(attempt({ tls: { caFile }, user: 'platform', pass: 'wrong' })).rejects.toThrow(/auth/i);
  });

  it('lets only the platform (relay) publish events; a service or the read-only cli is refused', async () => {
    const subject = 'pgfleet.events.cluster.cluster-c1.ClusterReady';
    const before = await storedEvents();
    for (const user of ['provisioning', 'cli'] as const) {
      await expect(jetstream(await as(user)).publish(subject, '{}', { timeout: 1500 })).rejects.toThrow();
    }
    expect(await storedEvents()).toBe(before);
    const ack = await jetstream(await as('platform')).publish(subject, '{}', { msgID: 'e1' });
    expect(ack.seq).toBe(before + 1);
  });

  it('lets a service answer its own commands, and refuses it another service’s command subject', async () => {
    const platform = await as('platform');
    const provisioning = await as('provisioning');
    const backup = await as('backup');
    const ping = 'pgfleet.commands.provisioning.Ping';
    const own = provisioning.subscribe(ping, { callback: (_e, m) => m.respond('pong') });
    await provisioning.flush(); // the server knows the subscription before the request is sent
    expect((await platform.request(ping, '', { timeout: 2000 })).string()).toBe('pong');
    own.unsubscribe();
    await provisioning.flush();

    // Backup may not listen on provisioning's commands (e.g. to answer DeleteCluster in its place).
    const refused = await subscribeOutcome(backup, 'pgfleet.commands.provisioning.DeleteCluster');
    expect(refused?.message).toMatch(/permissions violation for subscription/i);
    expect((await subscribeOutcome(backup, 'pgfleet.commands.>'))?.message).toMatch(/permissions violation/i);
    // ...nor read the replies meant for another user.
    expect((await subscribeOutcome(backup, '_INBOX_platform.>'))?.message).toMatch(/permissions violation/i);
    const reply = await sendCommand(platform, 'provisioning', 'DeleteCluster', { clusterId: 'c1' }, undefined, {
      timeoutMs: 1500,
    });
    expect(reply).toMatchObject({ ok: false, code: 'SERVICE_UNAVAILABLE' });
  });

  it('lets the read-only cli user read events, but neither send a command nor take a service’s durable', async () => {
    const cli = await as('cli');
    const provisioning = await as('provisioning');
    let received = 0;
    const sub = provisioning.subscribe('pgfleet.commands.provisioning.DeleteCluster', {
      callback: () => received++,
    });
    await provisioning.flush();
    cli.publish('pgfleet.commands.provisioning.DeleteCluster', JSON.stringify({ data: { clusterId: 'c1' } }));
    await cli.flush();
    await provisioning.flush();
    expect(received).toBe(0);
    sub.unsubscribe();

    const seen: string[] = [];
    const tail = await tailEvents({
      js: jetstream(cli),
      fromStart: true,
      onEvent: (e) => void seen.push(e.type),
      onInvalid: (_r, subject) => void seen.push(subject),
    });
    try {
      await expect.poll(() => seen.length, { timeout: 10_000 }).toBeGreaterThan(0);
    } finally {
      await tail.stop();
    }
    // Pulling from a service's durable would take that service's events away from it.
    await expect(jetstream(cli).consumers.get(EVENTS_STREAM, 'provisioning')).rejects.toThrow();
  });

  it('lets a service pull from and ack its own durable consumer only', async () => {
    const provisioning = await as('provisioning');
    const backup = await as('backup');
    await publishEvent(jetstream(await as('platform')), storedEvent('cluster-c2', 1));
    const handled: string[] = [];
    const consumer = await consumeEvents({
      js: jetstream(backup),
      durable: 'backup',
      filterSubjects: ['pgfleet.events.cluster.cluster-c2.*'],
      handler: (e) => void handled.push(e.type),
      setupTimeoutMs: 2000,
    });
    try {
      await expect.poll(() => handled.length, { timeout: 10_000 }).toBeGreaterThan(0);
    } finally {
      await consumer.stop();
    }
    const jsm = await jetstreamManager(backup);
    await expect.poll(async () => (await jsm.consumers.info(EVENTS_STREAM, 'backup')).num_ack_pending).toBe(0);
    // Provisioning may not create or pull another service's durable.
    await expect(
      consumeEvents({
        js: jetstream(provisioning),
        durable: 'backup-operations',
        handler: () => undefined,
        setupTimeoutMs: 1000,
      }),
    ).rejects.toThrow();
  });
});
