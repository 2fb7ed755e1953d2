import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createClusterCa, freePort, issueNodeCert, ownedTempDir } from '@pgfleet/postgres';
import { connectBus } from './connect.js';
import { ensureEventsStream } from './eventsStream.js';
import { publishPermissions, renderNatsConfig } from './natsConfig.js';
import { startNatsServer, type NatsServerHandle } from './natsServer.js';

let dir: string;
let server: NatsServerHandle;
let caFile: string;
const passwords = { platform: 'platform-secret-1', provisioning: 'provisioning-secret-2' };

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
      users: Object.entries(passwords).map(([user, password]) => ({
        user,
        password,
        publish: publishPermissions(user),
      })),
    }),
    { mode: 0o600 },
  );
  server = await startNatsServer({ port, storeDir: join(dir, 'js'), configFile });
});
afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const url = () => `tls://127.0.0.1:${server.port}`;

describe('the embedded NATS server with TLS and per-user permissions', () => {
  it('refuses a client that does not trust the platform CA, and a wrong password', async () => {
    await expect(
      connectBus({ servers: url(), name: 't', user: 'platform', pass: passwords.platform, waitOnFirstConnect: false }),
    ).rejects.toThrow();
    await expect(
      connectBus({
        servers: url(),
        name: 't',
        tls: { caFile },
        user: 'platform',
        pass: 'wrong',
        waitOnFirstConnect: false,
      }),
    ).rejects.toThrow(/auth/i);
  });

  it(
    'lets the platform (relay) publish events over TLS, ' + 'and refuses a service that publishes an event subject',
    async () => {
      const platform = await connectBus({
        servers: url(),
        name: 'platform',
        tls: { caFile },
        user: 'platform',
        pass: passwords.platform,
      });
      const service = await connectBus({
        servers: url(),
        name: 'provisioning',
        tls: { caFile },
        user: 'provisioning',
        pass: passwords.provisioning,
      });
      try {
        const jsm = await jetstreamManager(platform);
        await ensureEventsStream(jsm);
        const subject = 'pgfleet.events.cluster.cluster-c1.ClusterReady';
        await expect(jetstream(service).publish(subject, '{}', { timeout: 1500 })).rejects.toThrow();
        expect((await jsm.streams.info('PGFLEET_EVENTS')).state.messages).toBe(0);
        const ack = await jetstream(platform).publish(subject, '{}', { msgID: 'e1' });
        expect(ack.seq).toBe(1);
        // The service can still do what it needs: answer requests and read the stream.
        const info = await jetstreamManager(service).then((m) => m.streams.info('PGFLEET_EVENTS'));
        expect(info.state.messages).toBe(1);
        const sub = service.subscribe('pgfleet.commands.provisioning.Ping', { callback: (_e, m) => m.respond('pong') });
        await service.flush(); // the server knows the subscription before the request is sent
        const reply = await platform.request('pgfleet.commands.provisioning.Ping', '', { timeout: 2000 });
        expect(reply.string()).toBe('pong');
        sub.unsubscribe();
      } finally {
        await platform.close();
        await service.close();
      }
    },
  );
});
