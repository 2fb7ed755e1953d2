import { describe, expect, it } from 'vitest';
import { toolEnvironment } from './exec.js';

describe('the environment of a tool', () => {
  it('carries PATH, the locale and a HOME without dotfiles, and none of the control plane secrets', () => {
    const env = toolEnvironment({
      PATH: '/usr/lib/postgresql/15/bin:/usr/bin',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      HOME: '/root',
      PGFLEET_SECRET_CANARY: 'canary',
      PGPASSWORD: 'hunter2',
      NATS_TOKEN: 't',
      PGSSLMODE: 'disable',
    });
    expect(env).toEqual({
      PATH: '/usr/lib/postgresql/15/bin:/usr/bin',
      HOME: '/tmp',
      PGSYSCONFDIR: '/nonexistent',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
    });
  });

  it('falls back to a plain PATH and leaves an unset locale unset', () => {
    expect(toolEnvironment({})).toEqual({ PATH: '/usr/bin:/bin', HOME: '/tmp', PGSYSCONFDIR: '/nonexistent' });
  });
});
