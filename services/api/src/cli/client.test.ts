import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { apiClient } from './client.js';

const homes: string[] = [];
const home = () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgfleet-cli-client-'));
  homes.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of homes.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the CLI with your own NATS server (PGFLEET_NATS_URL)', () => {
  it('connects to it with the CA, user and password of the environment, as the services do', async () => {
    const client = apiClient({
      PGFLEET_HOME: home(),
      PGFLEET_NATS_URL: 'tls://nats.example:4222',
      PGFLEET_NATS_CA: '/etc/pgfleet/nats-ca.crt',
      PGFLEET_NATS_USER: 'cli',
      PGFLEET_NATS_PASSWORD: 'from-the-environment',
    });
    expect(client.natsUrl()).toBe('tls://nats.example:4222');
    expect(await client.natsAuth()).toEqual({
      tls: { caFile: '/etc/pgfleet/nats-ca.crt' },
      user: 'cli',
      pass: 'from-the-environment',
    });
  });

  it('without credentials in the environment, connects without any', async () => {
    const client = apiClient({ PGFLEET_HOME: home(), PGFLEET_NATS_URL: 'nats://127.0.0.1:4222' });
    expect(await client.natsAuth()).toEqual({});
  });
});
