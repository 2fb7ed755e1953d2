import { describe, expect, it } from 'vitest';
import { childEnv } from './childEnv.js';

const platform = {
  PATH: '/usr/bin:/bin',
  TZ: 'Europe/Paris',
  LANG: 'C.UTF-8',
  HOME: '/root',
  PGFLEET_EVENTSTORE_URL: 'postgres://postgres:hunter2@127.0.0.1:5432/pgfleet',
  PGFLEET_NATS_PASSWORD: 'nats-secret',
  PGFLEET_SECRET_KEY: 'key',
  PGPASSWORD: 'hunter2',
  PGDATA: '/srv/eventstore',
};

describe('the environment of a child process', () => {
  it('keeps PATH, the locale and TZ of the platform and none of its secrets or PG variables', () => {
    expect(childEnv({}, platform)).toEqual({
      PATH: '/usr/bin:/bin',
      TZ: 'Europe/Paris',
      LANG: 'C.UTF-8',
      HOME: '/tmp',
      PGSYSCONFDIR: '/nonexistent',
    });
  });

  it('adds what a child needs on purpose, and an undefined removes a variable', () => {
    const env = childEnv({ PGDATA: '/data/n1', PGPORT: '6001', TZ: undefined }, platform);
    expect(env).toMatchObject({ PGDATA: '/data/n1', PGPORT: '6001' });
    expect(env).not.toHaveProperty('TZ');
    expect(Object.values(env).join(' ')).not.toMatch(/hunter2|nats-secret/);
  });
});
