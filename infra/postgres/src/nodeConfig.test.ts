import { describe, expect, it } from 'vitest';
import { findPlan } from '@pgfleet/contracts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeSettings, nodeSocketDir, readNodeSettings, renderNodeConfig, NODE_CONFIG_MARKER } from './nodeConfig.js';

const plan = findPlan('business-4096')!;

describe('nodeSettings', () => {
  it('sizes memory settings from the plan', () => {
    const s = nodeSettings({ plan, port: 6543, dataDir: '/h/c/n/data' });
    expect(s.shared_buffers).toBe("'1024MB'");
    expect(s.effective_cache_size).toBe("'3072MB'");
    expect(s.maintenance_work_mem).toBe("'256MB'");
    expect(s.max_connections).toBe('300');
    // (4096 MB * 0.75) / (300 connections * 3) = 3.41 MB
    expect(s.work_mem).toBe("'3495kB'");
  });

  it('keeps small plans above the minimums', () => {
    const s = nodeSettings({ plan: { memoryMb: 256, maxConnections: 500 }, port: 1, dataDir: '/d' });
    expect(s.shared_buffers).toBe("'64MB'");
    expect(s.maintenance_work_mem).toBe("'64MB'");
    expect(s.work_mem).toBe("'1024kB'");
  });

  it('turns on streaming replication, scram and local-only listening', () => {
    const s = nodeSettings({ plan, port: 6543, dataDir: '/h/c/n/data' });
    expect(s).toMatchObject({
      wal_level: 'replica',
      hot_standby: 'on',
      max_wal_senders: '10',
      max_replication_slots: '10',
      wal_keep_size: "'256MB'",
      password_encryption: 'scram-sha-256',
      listen_addresses: "'127.0.0.1'",
      port: '6543',
      unix_socket_directories: "'/h/c/n/data.run'",
      logging_collector: 'on',
      log_directory: "'log'",
      ssl: 'off',
    });
  });

  it('points ssl at the given certificate files', () => {
    const s = nodeSettings({
      plan,
      port: 1,
      dataDir: '/d',
      tls: { certFile: '/t/server.crt', keyFile: '/t/server.key', caFile: "/t/o'ca.crt" },
    });
    expect(s.ssl).toBe('on');
    expect(s.ssl_cert_file).toBe("'/t/server.crt'");
    expect(s.ssl_key_file).toBe("'/t/server.key'");
    expect(s.ssl_ca_file).toBe("'/t/o''ca.crt'");
  });

  it('lets extra settings override and renders booleans', () => {
    const s = nodeSettings({ plan, port: 1, dataDir: '/d', extra: { archive_mode: true, max_wal_senders: 20 } });
    expect(s.archive_mode).toBe('on');
    expect(s.max_wal_senders).toBe('20');
  });
});

describe('renderNodeConfig', () => {
  it('starts with the pgfleet marker and has one line per setting', () => {
    const text = renderNodeConfig({ plan, port: 7000, dataDir: '/d', clusterName: 'node-a' });
    expect(text.startsWith(NODE_CONFIG_MARKER)).toBe(true);
    expect(text).toContain('\nport = 7000\n');
    expect(text).toContain("\ncluster_name = 'node-a'\n");
  });
});

describe('nodeSocketDir', () => {
  it('uses a directory beside the data dir (never in it) when the socket path fits the kernel limit', () => {
    expect(nodeSocketDir('/var/lib/pgfleet/clusters/c1/n1/data')).toBe('/var/lib/pgfleet/clusters/c1/n1/data.run');
  });

  it('uses a short stable dir for long data dirs', () => {
    const long = `/tmp/pgfleet-home/clusters/${'c'.repeat(36)}/${'n'.repeat(36)}/data`;
    const dir = nodeSocketDir(long);
    expect(dir).toMatch(/^\/tmp\/pgfleet-sock\/[0-9a-f]{16}$/);
    expect(nodeSocketDir(long)).toBe(dir);
    expect(nodeSocketDir(`${long}2`)).not.toBe(dir);
  });
});

describe('readNodeSettings', () => {
  it('reads back what renderNodeConfig wrote, string values unquoted', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgfleet-conf-'));
    try {
      const tls = { certFile: '/t/server.crt', keyFile: '/t/server.key', caFile: "/t/it's/ca.crt" };
      writeFileSync(
        join(dir, 'postgresql.conf'),
        renderNodeConfig({ plan, port: 6543, dataDir: dir, tls, clusterName: 'n_1' }),
      );
      expect(readNodeSettings(dir)).toMatchObject({
        port: '6543',
        ssl: 'on',
        ssl_ca_file: "/t/it's/ca.crt",
        cluster_name: 'n_1',
        shared_buffers: '1024MB',
      });
      expect(readNodeSettings(join(dir, 'missing'))).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
