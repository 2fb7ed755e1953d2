import { describe, expect, it } from 'vitest';
import { GatewayError } from './errors.js';
import { renderHaproxyConfig, type HaproxyConfigSpec } from './haproxyConfig.js';

const spec = (over: Partial<HaproxyConfigSpec> = {}): HaproxyConfigSpec => ({
  clusterId: 'c1',
  gatewayId: 'gw-1',
  binds: [{ host: '127.0.0.1', port: 6432 }],
  nodes: [
    { nodeId: 'n1', host: '127.0.0.1', port: 5433 },
    { nodeId: 'n2', host: '127.0.0.1', port: 5434 },
    { nodeId: 'n3', host: 'pg-n3.internal', port: 5432 },
  ],
  leaderNodeId: 'n2',
  runDir: '/var/lib/pgfleet/clusters/c1/gateways/gw-1',
  ...over,
});

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof GatewayError ? err.code : String(err);
  }
  return 'no error';
};

describe('renderHaproxyConfig', () => {
  it('lists every node as a checked server and enables only the leader', () => {
    const cfg = renderHaproxyConfig(spec());
    expect(cfg).toContain('  server n1 127.0.0.1:5433 check disabled\n');
    expect(cfg).toContain('  server n2 127.0.0.1:5434 check\n');
    expect(cfg).toContain('  server n3 pg-n3.internal:5432 check disabled\n');
    expect(cfg).toMatch(/default-server .*on-marked-down shutdown-sessions/);
  });

  it('disables every server while the cluster has no leader', () => {
    const cfg = renderHaproxyConfig(spec({ leaderNodeId: undefined }));
    expect(cfg.match(/^ {2}server .* check disabled$/gm)).toHaveLength(3);
  });

  it('runs in TCP mode with long session timeouts, keepalives and an admin stats socket in the run dir', () => {
    const cfg = renderHaproxyConfig(spec({ timeouts: { clientMs: 7_200_000 } }));
    expect(cfg).toContain('  mode tcp\n');
    expect(cfg).toContain('  timeout client 7200000ms\n');
    expect(cfg).toContain('  timeout server 3600000ms\n');
    expect(cfg).toContain('  option clitcpka\n');
    expect(cfg).toContain(
      '  stats socket /var/lib/pgfleet/clusters/c1/gateways/gw-1/admin.sock mode 600 level admin expose-fd listeners\n',
    );
    expect(cfg).toContain('  pidfile /var/lib/pgfleet/clusters/c1/gateways/gw-1/haproxy.pid\n');
    expect(cfg).not.toContain('noreuseport');
  });

  it('binds every address, with the ipv6@ form for IPv6 literals', () => {
    const cfg = renderHaproxyConfig(
      spec({
        binds: [
          { host: '127.0.0.1', port: 6432 },
          { host: '::1', port: 6432 },
          { host: '10.200.0.1', port: 6432 },
        ],
      }),
    );
    expect(cfg).toContain('  bind 127.0.0.1:6432\n  bind ipv6@::1:6432\n  bind 10.200.0.1:6432\n');
  });

  it('is deterministic, and hard-stop-after only appears when asked', () => {
    expect(renderHaproxyConfig(spec())).toBe(renderHaproxyConfig(spec()));
    expect(renderHaproxyConfig(spec())).not.toContain('hard-stop-after');
    expect(renderHaproxyConfig(spec({ hardStopAfterMs: 60000 }))).toContain('  hard-stop-after 60000ms\n');
  });

  it('rejects specs HAProxy would not run safely, with a code', () => {
    expect(code(() => renderHaproxyConfig(spec({ leaderNodeId: 'n9' })))).toBe('INVALID_GATEWAY_CONFIG');
    expect(code(() => renderHaproxyConfig(spec({ binds: [] })))).toBe('INVALID_GATEWAY_CONFIG');
    expect(code(() => renderHaproxyConfig(spec({ binds: [{ host: 'localhost', port: 1 }] })))).toBe(
      'INVALID_GATEWAY_CONFIG',
    );
    expect(code(() => renderHaproxyConfig(spec({ binds: [{ host: '127.0.0.1', port: 70000 }] })))).toBe(
      'INVALID_GATEWAY_CONFIG',
    );
    expect(code(() => renderHaproxyConfig(spec({ nodes: [] })))).toBe('INVALID_GATEWAY_CONFIG');
    expect(
      code(() =>
        renderHaproxyConfig(
          spec({ nodes: [{ nodeId: 'n1; x', host: '127.0.0.1', port: 1 }], leaderNodeId: undefined }),
        ),
      ),
    ).toBe('INVALID_GATEWAY_CONFIG');
    expect(
      code(() =>
        renderHaproxyConfig(spec({ nodes: [{ nodeId: 'n1', host: 'bad host', port: 1 }], leaderNodeId: undefined })),
      ),
    ).toBe('INVALID_GATEWAY_CONFIG');
    expect(code(() => renderHaproxyConfig(spec({ runDir: 'relative/dir' })))).toBe('INVALID_GATEWAY_CONFIG');
    expect(code(() => renderHaproxyConfig(spec({ runDir: `/${'x'.repeat(100)}` })))).toBe('INVALID_GATEWAY_CONFIG');
    expect(code(() => renderHaproxyConfig(spec({ check: { fall: 0 } })))).toBe('INVALID_GATEWAY_CONFIG');
  });
});
