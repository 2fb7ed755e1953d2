import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@pgfleet/kit';
import { NetworkingConfig } from './config.js';

describe('networking configuration', () => {
  it('PGFLEET_HA_AGENT is host:port, optional (unset or empty: no agent check)', () => {
    expect(loadConfig(NetworkingConfig, {}).PGFLEET_HA_AGENT).toBeUndefined();
    expect(loadConfig(NetworkingConfig, { PGFLEET_HA_AGENT: '' }).PGFLEET_HA_AGENT).toBeUndefined();
    expect(loadConfig(NetworkingConfig, { PGFLEET_HA_AGENT: '127.0.0.1:7490' }).PGFLEET_HA_AGENT).toEqual({
      host: '127.0.0.1',
      port: 7490,
    });
    expect(loadConfig(NetworkingConfig, { PGFLEET_HA_AGENT: 'ha.internal:7490' }).PGFLEET_HA_AGENT).toEqual({
      host: 'ha.internal',
      port: 7490,
    });
    expect(loadConfig(NetworkingConfig, { PGFLEET_HA_AGENT: '[::1]:7490' }).PGFLEET_HA_AGENT).toEqual({
      host: '::1',
      port: 7490,
    });
  });

  it('a PGFLEET_HA_AGENT that is not host:port is refused, naming the variable', () => {
    for (const bad of ['7490', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'a b:1', '::1:7490']) {
      expect(() => loadConfig(NetworkingConfig, { PGFLEET_HA_AGENT: bad })).toThrow(ConfigError);
      expect(() => loadConfig(NetworkingConfig, { PGFLEET_HA_AGENT: bad })).toThrow(
        /PGFLEET_HA_AGENT is invalid: must be host:port/,
      );
    }
  });

  it(
    'node certificates: valid 365 days, renewed 30 days before they end, checked hourly; ' +
      'renewal must come before the end',
    () => {
      expect(loadConfig(NetworkingConfig, {})).toMatchObject({
        PGFLEET_NODE_CERT_DAYS: 365,
        PGFLEET_CERT_RENEW_BEFORE_DAYS: 30,
        PGFLEET_CERT_CHECK_INTERVAL_S: 3600,
      });
      expect(
        loadConfig(NetworkingConfig, { PGFLEET_CERT_RENEW_BEFORE_DAYS: '0.5' }).PGFLEET_CERT_RENEW_BEFORE_DAYS,
      ).toBe(0.5);
      expect(() => loadConfig(NetworkingConfig, { PGFLEET_NODE_CERT_DAYS: '30' })).toThrow(
        /PGFLEET_CERT_RENEW_BEFORE_DAYS is invalid: must be shorter than PGFLEET_NODE_CERT_DAYS/,
      );
    },
  );
});
