import { describe, expect, it } from 'vitest';
import { GatewayError } from './errors.js';
import { renderHaproxyConfig, type HaproxyConfigSpec } from './haproxyConfig.js';
import { gatewayFiles } from './gatewayFiles.js';

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

  it('puts the stats socket of a run directory too deep for one under /tmp, the same for every reader', () => {
    const cluster = 'orders-of-the-european-warehouses-eu-one-0f1e2d3c';
    const deep = `/var/lib/${'pgfleet-home/'.repeat(4)}clusters/${cluster}/gateways/gw1`;
    const socket = gatewayFiles(deep).socket;
    expect(socket).toMatch(/^\/tmp\/pgfleet-gw\/[0-9a-f]{16}\.sock$/);
    expect(gatewayFiles(deep).socket).toBe(socket);
    expect(renderHaproxyConfig(spec({ runDir: deep }))).toContain(`stats socket ${socket} mode 600 level admin`);
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

  it('serves the followers on a second frontend, round robin, only the read-only nodes enabled', () => {
    const cfg = renderHaproxyConfig(
      spec({ readOnly: { binds: [{ host: '127.0.0.1', port: 6433 }], nodeIds: ['n1', 'n3'] } }),
    );
    expect(cfg).toContain(
      [
        'frontend fe_ro',
        '  bind 127.0.0.1:6433',
        '  default_backend be_ro',
        '',
        'backend be_ro',
        '  balance roundrobin',
        '  option redispatch 1',
        '  default-server inter 2000ms downinter 250ms fall 3 rise 2 ' +
          'on-marked-down shutdown-sessions init-addr libc,none',
        '  server n1 127.0.0.1:5433 check',
        '  server n2 127.0.0.1:5434 check disabled',
        '  server n3 pg-n3.internal:5432 check',
        '',
      ].join('\n'),
    );
    // The write endpoint is unchanged: the leader only.
    expect(cfg).toContain('backend be_pg\n  balance first\n');
    expect(cfg).toContain(
      '  server n2 127.0.0.1:5434 check\n  server n3 pg-n3.internal:5432 check disabled\n\nfrontend',
    );
    expect(renderHaproxyConfig(spec())).not.toContain('fe_ro');
  });

  it('asks the agent about every server, rw on the write backend and ro on the read-only one, when given', () => {
    const cfg = renderHaproxyConfig(
      spec({
        leaderNodeId: undefined,
        readOnly: { binds: [{ host: '127.0.0.1', port: 6433 }], nodeIds: ['n2'] },
        agent: { host: '127.0.0.1', port: 7490 },
      }),
    );
    const agent = 'agent-check agent-addr 127.0.0.1 agent-port 7490 agent-inter 500ms agent-send';
    expect(cfg).toContain(`  server n1 127.0.0.1:5433 check ${agent} "c1 n1 rw\\n" disabled\n`);
    expect(cfg).toContain(`  server n2 127.0.0.1:5434 check ${agent} "c1 n2 rw\\n" disabled\n`);
    expect(cfg).toContain(`  server n3 pg-n3.internal:5432 check ${agent} "c1 n3 rw\\n" disabled\n`);
    expect(cfg).toContain(`  server n1 127.0.0.1:5433 check ${agent} "c1 n1 ro\\n" disabled\n`);
    expect(cfg).toContain(`  server n2 127.0.0.1:5434 check ${agent} "c1 n2 ro\\n"\n`);
    expect(cfg.match(/agent-check/g)).toHaveLength(6);
    const slower = renderHaproxyConfig(spec({ agent: { host: 'ha.internal', port: 7490, intervalMs: 250 } }));
    expect(slower).toContain('agent-addr ha.internal agent-port 7490 agent-inter 250ms agent-send "c1 n2 rw\\n"\n');
    expect(renderHaproxyConfig(spec())).not.toContain('agent');
  });

  it('rejects specs HAProxy would not run safely, with a code', () => {
    const ro = (over: Partial<NonNullable<HaproxyConfigSpec['readOnly']>>) => ({
      readOnly: { binds: [{ host: '127.0.0.1', port: 6433 }], nodeIds: ['n1'], ...over },
    });
    // A read-only frontend on the write port would share it (SO_REUSEPORT): writes could land on followers.
    expect(code(() => renderHaproxyConfig(spec(ro({ binds: [{ host: '0.0.0.0', port: 6432 }] }))))).toBe(
      'INVALID_GATEWAY_CONFIG',
    );
    expect(code(() => renderHaproxyConfig(spec(ro({ binds: [] }))))).toBe('INVALID_GATEWAY_CONFIG');
    expect(code(() => renderHaproxyConfig(spec(ro({ nodeIds: ['n9'] }))))).toBe('INVALID_GATEWAY_CONFIG');
    expect(code(() => renderHaproxyConfig(spec({ agent: { host: 'bad host', port: 7490 } })))).toBe(
      'INVALID_GATEWAY_CONFIG',
    );
    expect(code(() => renderHaproxyConfig(spec({ agent: { host: '127.0.0.1', port: 0 } })))).toBe(
      'INVALID_GATEWAY_CONFIG',
    );
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
    expect(code(() => renderHaproxyConfig(spec({ check: { fall: 0 } })))).toBe('INVALID_GATEWAY_CONFIG');
  });
});
