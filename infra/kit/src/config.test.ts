import { isAbsolute, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BaseConfig, ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('works locally with no variables set: defaults, home resolved to an absolute path', () => {
    const config = loadConfig(BaseConfig, {});
    expect(config).toEqual({ PGFLEET_HOME: resolve('.pgfleet'), PGFLEET_LOG_LEVEL: 'info' });
    expect(isAbsolute(config.PGFLEET_HOME)).toBe(true);
  });

  it('reads and coerces set variables, treating empty ones as unset', () => {
    const config = loadConfig(BaseConfig, {
      PGFLEET_HOME: '/var/lib/pgfleet',
      PGFLEET_NATS_URL: 'nats://10.0.0.5:4222',
      PGFLEET_EVENTSTORE_URL: 'postgres://events@db:5432/pgfleet_events',
      PGFLEET_LOG_LEVEL: 'debug',
      PGFLEET_HEALTH_PORT: '0',
      UNRELATED: 'x',
    });
    expect(config).toEqual({
      PGFLEET_HOME: '/var/lib/pgfleet',
      PGFLEET_NATS_URL: 'nats://10.0.0.5:4222',
      PGFLEET_EVENTSTORE_URL: 'postgres://events@db:5432/pgfleet_events',
      PGFLEET_LOG_LEVEL: 'debug',
      PGFLEET_HEALTH_PORT: 0,
    });
    expect(loadConfig(BaseConfig, { PGFLEET_LOG_LEVEL: '' }).PGFLEET_LOG_LEVEL).toBe('info');
  });

  it('a service extends the base schema with its own settings', () => {
    const Config = BaseConfig.extend({ PGFLEET_BACKUP_PARALLELISM: z.coerce.number().int().min(1).default(2) });
    expect(loadConfig(Config, {}).PGFLEET_BACKUP_PARALLELISM).toBe(2);
    expect(loadConfig(Config, { PGFLEET_BACKUP_PARALLELISM: '4' }).PGFLEET_BACKUP_PARALLELISM).toBe(4);
  });

  it('bad config throws one sentence naming the variable and the rule', () => {
    const attempt = (env: Record<string, string>, schema: z.ZodObject = BaseConfig) => {
      try {
        loadConfig(schema, env);
      } catch (error) {
        return error as ConfigError;
      }
      throw new Error('expected a ConfigError');
    };
    const port = attempt({ PGFLEET_HEALTH_PORT: '70000' });
    expect(port).toBeInstanceOf(ConfigError);
    expect(port.message).toBe('configuration error: PGFLEET_HEALTH_PORT is invalid: must be 0-65535.');
    expect([port.code, port.variable]).toEqual(['INVALID_CONFIG', 'PGFLEET_HEALTH_PORT']);

    expect(attempt({ PGFLEET_NATS_URL: 'localhost:4222' }).message).toBe(
      'configuration error: PGFLEET_NATS_URL is invalid: must be a URL like nats://127.0.0.1:4222.',
    );
    expect(attempt({ PGFLEET_LOG_LEVEL: 'loud' }).message).toMatch(
      /^configuration error: PGFLEET_LOG_LEVEL is invalid: .*"info".*\.$/,
    );

    const Required = z.object({ PGFLEET_ACCOUNT: z.string().min(1) });
    const missing = attempt({}, Required);
    expect(missing.message).toBe('configuration error: PGFLEET_ACCOUNT is required but not set.');
    expect(missing.rule).toBe('required');
  });
});
