import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectBus, sendCommand } from '@pgfleet/bus';
import { EVENTS_STREAM } from '@pgfleet/contracts';
import { CLI, startPlatform, waitFor, type TestPlatform } from './harness.js';

let t: TestPlatform;
const open: NatsConnection[] = [];
beforeAll(async () => {
  t = await startPlatform(); // the default: no flag asks for TLS and users
});
afterAll(async () => {
  await Promise.allSettled(open.map((nc) => nc.close()));
  await t?.cleanup();
});

const as = async (user: string) => {
  const nc = await t.connectNats(`e2e-as-${user}`, user);
  open.push(nc);
  return nc;
};

/** The error the server sends for a refused subscription, or undefined once it is accepted. */
function subscribeOutcome(nc: NatsConnection, subject: string): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const sub = nc.subscribe(subject, { callback: (error) => resolve(error ?? undefined) });
    void nc.flush().then(() => setTimeout(() => (sub.isClosed() ? undefined : resolve(undefined)), 500));
  });
}

describe('pgfleet up: NATS is closed by default (TLS, a user per process, least privilege)', () => {
  it('refuses a client without the platform CA or without credentials; no user subscribes to all', async () => {
    expect(t.platform.natsUrl).toMatch(/^tls:\/\//);
    const conf = readFileSync(`${t.home}/tls/nats/nats.conf`, 'utf8');
    expect(conf).toContain('tls {');
    expect(conf).toMatch(/user: "provisioning".*publish: \{ allow: \[(?![^\]]*pgfleet\.events)/);
    expect(conf).not.toMatch(/subscribe: \{ allow: \[[^\]]*">"/);
    await expect(
      connectBus({ servers: t.platform.natsUrl, name: 'stranger', waitOnFirstConnect: false }),
    ).rejects.toThrow();
    const { PGFLEET_NATS_CA } = await t.platform.natsEnv('cli');
    await expect(
      connectBus({
        servers: t.platform.natsUrl,
        name: 'no-credentials',
        tls: { caFile: PGFLEET_NATS_CA! },
        waitOnFirstConnect: false,
      }),
    ).rejects.toThrow(/auth/i);
  });

  it(
    'a service cannot listen on another service’s commands nor publish an event; the cli user cannot send a ' +
      'command or an event; events tail reads as the cli user',
    async () => {
      const created = await t.cli('cluster', 'create', 'secure', '--plan', 'sandbox');
      expect(created.code, created.stderr).toBe(0);
      const backup = await as('backup');
      const cli = await as('cli');
      // The platform records events of its own meanwhile (health, disk): checked is that ours is not stored.
      const storedOnSubject = async (subject: string) =>
        (await jetstreamManager(backup)).streams
          .getMessage(EVENTS_STREAM, { last_by_subj: subject })
          .then((m) => m !== null)
          .catch(() => false);

      // Backup may not take provisioning's DeleteCluster requests (nor anyone's replies).
      expect((await subscribeOutcome(backup, 'pgfleet.commands.provisioning.DeleteCluster'))?.message).toMatch(
        /permissions violation/i,
      );
      expect((await subscribeOutcome(backup, '_INBOX_platform.>'))?.message).toMatch(/permissions violation/i);
      // Neither a service nor the cli user may publish an event (only the relay does).
      const event = 'pgfleet.events.cluster.cluster-x.ClusterDeleted';
      await expect(jetstream(backup).publish(event, '{}', { timeout: 1500 })).rejects.toThrow();
      await expect(jetstream(cli).publish(event, '{}', { timeout: 1500 })).rejects.toThrow();
      // The read-only cli user may not send a command: the cluster is still there.
      const reply = await sendCommand(cli, 'provisioning', 'DeleteCluster', { clusterId: 'secure' }, undefined, {
        timeoutMs: 1500,
      }).catch((error: unknown) => ({ ok: false, code: String(error) }));
      expect('code' in reply ? reply.code : 'accepted').toMatch(/permissions violation/i);
      expect(await storedOnSubject(event)).toBe(false);
      const shown = await t.cli('cluster', 'show', 'secure', '--json');
      expect(shown.code, shown.stderr).toBe(0);

      const tail = spawn(
        process.execPath,
        [CLI, 'events', 'tail', '--type', 'ClusterReady', '--since', '2020-01-01T00:00:00Z', '--json'],
        { env: t.env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      tail.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        const line = await waitFor(
          'a ClusterReady line',
          () => (out.includes('\n') ? out.split('\n')[0] : undefined),
          30_000,
        );
        expect(JSON.parse(line!)).toMatchObject({ type: 'ClusterReady' });
      } finally {
        tail.kill('SIGTERM');
      }
      // No NATS password is in the logs.
      const conf = readFileSync(`${t.home}/tls/nats/nats.conf`, 'utf8');
      const password = conf.match(/user: "provisioning", password: "([^"]+)"/)![1]!;
      expect(t.logs.join('\n')).not.toContain(password);
      // Every service did all it does within its permissions.
      expect(t.logs.join('\n')).not.toMatch(/permissions violation|missing from SERVICE_BUS_USE/i);
    },
  );
});
