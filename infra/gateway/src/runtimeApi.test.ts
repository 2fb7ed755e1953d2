import { describe, expect, it } from 'vitest';
import { parseServersState, routeCommands, switchLeaderCommands, type ServerState } from './runtimeApi.js';

// A real `show servers state be_pg` reply of HAProxy 2.6 (b was `disabled` in the config, then set ready).
const HEADER = [
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight',
  'srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state',
  'srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port',
  'srv_check_addr srv_agent_addr srv_agent_port',
].join(' ');
const REPLY = `1
${HEADER}
3 be_pg 1 a 127.0.0.1 0 0 1 1 4 8 2 0 6 0 0 0 - 16001 - 0 0 - - 0
3 be_pg 2 b 127.0.0.1 2 4 1 1 1 1 0 1 6 0 0 0 - 16002 - 0 0 - - 0
3 be_pg 3 c 127.0.0.1 0 5 1 1 3 1 0 0 14 0 0 0 - 16003 - 0 0 - - 0
3 be_pg 4 d 127.0.0.1 2 8 1 1 3 1 0 0 14 0 0 0 - 16004 - 0 0 - - 0

`;

describe('parseServersState', () => {
  it('reads each server by the header column names', () => {
    const s = parseServersState(REPLY);
    expect(s.map((x) => [x.server, x.port, x.op, x.admin])).toEqual([
      ['a', 16001, 'down', 'ready'],
      ['b', 16002, 'up', 'ready'], // the config's `disabled` bit (4) alone is not maintenance
      ['c', 16003, 'down', 'maint'],
      ['d', 16004, 'up', 'drain'],
    ]);
    expect(s[0]?.backend).toBe('be_pg');
  });

  it('turns an unexpected reply into a coded error', () => {
    expect(() => parseServersState("Can't find backend.\n")).toThrow(/unexpected reply/);
  });
});

const srv = (server: string, admin: ServerState['admin'], backend = 'be_pg'): ServerState => ({
  backend,
  server,
  address: '127.0.0.1',
  port: 1,
  op: 'up',
  admin,
  adminBits: 0,
});

describe('switchLeaderCommands', () => {
  it('takes the old leader out before enabling the new one', () => {
    expect(switchLeaderCommands([srv('a', 'ready'), srv('b', 'maint'), srv('c', 'maint')], 'b')).toEqual([
      'set server be_pg/a state maint',
      'set server be_pg/b state ready',
    ]);
  });

  it('drains instead when old sessions are kept', () => {
    expect(switchLeaderCommands([srv('a', 'ready'), srv('b', 'maint')], 'b', { oldSessions: 'keep' })).toEqual([
      'set server be_pg/a state drain',
      'set server be_pg/b state ready',
    ]);
  });

  it('changes nothing when the leader is already the only ready server', () => {
    expect(
      switchLeaderCommands([srv('a', 'maint'), srv('b', 'ready'), srv('c', 'drain')], 'b', { oldSessions: 'keep' }),
    ).toEqual([]);
    expect(switchLeaderCommands([srv('a', 'maint'), srv('b', 'ready')], 'b')).toEqual([]);
  });

  it('rejects a leader that is not a server', () => {
    expect(() => switchLeaderCommands([srv('a', 'ready')], 'zz')).toThrow(/not a server/);
  });
});

describe('parseServersState over every backend', () => {
  it('reads the servers of be_pg and be_ro from one reply', () => {
    const reply = `1
${HEADER}
3 be_pg 1 a 127.0.0.1 2 4 1 1 4 8 2 0 6 0 0 0 - 16001 - 0 0 - - 0
4 be_ro 1 a 127.0.0.1 2 5 1 1 4 8 2 0 6 0 0 0 - 16001 - 0 0 - - 0
`;
    expect(parseServersState(reply).map((x) => [x.backend, x.server, x.admin])).toEqual([
      ['be_pg', 'a', 'ready'],
      ['be_ro', 'a', 'maint'],
    ]);
  });
});

describe('routeCommands', () => {
  const gateway = (pg: Record<string, ServerState['admin']>, ro: Record<string, ServerState['admin']> = {}) => [
    ...Object.entries(pg).map(([name, admin]) => srv(name, admin)),
    ...Object.entries(ro).map(([name, admin]) => srv(name, admin, 'be_ro')),
  ];

  it('fencing the leader with nobody promoted: out of be_pg, its sessions shut, nothing enabled', () => {
    const servers = gateway({ a: 'ready', b: 'maint', c: 'maint' }, { a: 'maint', b: 'ready', c: 'ready' });
    expect(routeCommands(servers, { readOnly: ['b', 'c'] })).toEqual([
      'set server be_pg/a state maint',
      'shutdown sessions server be_pg/a',
    ]);
  });

  it('a failover to b: b leaves be_ro first, then takes writes; the fenced a stays out of both', () => {
    const servers = gateway({ a: 'maint', b: 'maint', c: 'maint' }, { a: 'maint', b: 'ready', c: 'ready' });
    expect(routeCommands(servers, { leader: 'b', readOnly: ['c'] })).toEqual([
      'set server be_ro/b state maint',
      'shutdown sessions server be_ro/b',
      'set server be_pg/b state ready',
    ]);
  });

  it('a switchover from a to b: a out of be_pg first, then b in, then a serves reads', () => {
    const servers = gateway({ a: 'ready', b: 'maint' }, { a: 'maint', b: 'ready' });
    expect(routeCommands(servers, { leader: 'b', readOnly: ['a'] })).toEqual([
      'set server be_pg/a state maint',
      'shutdown sessions server be_pg/a',
      'set server be_ro/b state maint',
      'shutdown sessions server be_ro/b',
      'set server be_pg/b state ready',
      'set server be_ro/a state ready',
    ]);
  });

  it('changes nothing when every server is where it belongs (a drained one is taken out)', () => {
    const servers = gateway({ a: 'maint', b: 'ready' }, { a: 'ready', b: 'maint' });
    expect(routeCommands(servers, { leader: 'b', readOnly: ['a'] })).toEqual([]);
    expect(routeCommands(gateway({ a: 'drain', b: 'ready' }), { leader: 'b', readOnly: [] })).toEqual([
      'set server be_pg/a state maint',
      'shutdown sessions server be_pg/a',
    ]);
  });

  it("a new leader whose agent said down (it was a standby) is forced up, not at the agent's next check", () => {
    const servers = gateway({ a: 'maint', b: 'maint' }, { a: 'maint', b: 'ready' }).map((s) => ({ ...s, agent: true }));
    expect(routeCommands(servers, { leader: 'b', readOnly: [] })).toEqual([
      'set server be_ro/b state maint',
      'shutdown sessions server be_ro/b',
      'set server be_pg/b state ready',
      'set server be_pg/b agent up',
    ]);
  });

  it('a gateway without be_ro (an older config) is routed on be_pg only', () => {
    expect(routeCommands(gateway({ a: 'ready', b: 'maint' }), { leader: 'b', readOnly: ['a'] })).toEqual([
      'set server be_pg/a state maint',
      'shutdown sessions server be_pg/a',
      'set server be_pg/b state ready',
    ]);
  });

  it('rejects a node that is not a server of the backend', () => {
    expect(() => routeCommands(gateway({ a: 'ready' }), { leader: 'zz', readOnly: [] })).toThrow(/not a server/);
    expect(() => routeCommands(gateway({ a: 'ready' }, { a: 'maint' }), { leader: 'a', readOnly: ['zz'] })).toThrow(
      /not a server of be_ro/,
    );
  });
});
