import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus } from '@pgfleet/bus';
import { CLI, startPlatform, waitFor, type TestPlatform } from './harness.js';

let t: TestPlatform;
beforeAll(async () => {
  t = await startPlatform({ PGFLEET_NATS_TLS: '1' });
});
afterAll(async () => {
  await t?.cleanup();
});

describe('PGFLEET_NATS_TLS=1: the platform talks to NATS over TLS with a user per process', () => {
  it(
    'serves only TLS clients with credentials; services work through it; events tail connects as the cli ' + 'user',
    async () => {
      expect(t.platform.natsUrl).toMatch(/^tls:\/\//);
      const conf = readFileSync(`${t.home}/tls/nats/nats.conf`, 'utf8');
      expect(conf).toContain('tls {');
      expect(conf).toMatch(/user: "provisioning".*publish: \{ allow: \[(?![^\]]*pgfleet\.events)/);
      // Without the platform CA (and credentials) a client is refused.
      await expect(
        connectBus({ servers: t.platform.natsUrl, name: 'stranger', waitOnFirstConnect: false }),
      ).rejects.toThrow();

      const created = await t.cli('cluster', 'create', 'secure', '--plan', 'sandbox');
      expect(created.code, created.stderr).toBe(0);

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
      const password = conf.match(/user: "provisioning", password: "([^"]+)"/)![1]!;
      expect(t.logs.join('\n')).not.toContain(password);
    },
  );
});
