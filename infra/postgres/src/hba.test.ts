import { describe, expect, it } from 'vitest';
import { renderHba } from './hba.js';

const rules = (text: string) =>
  text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(/\s+/));

describe('renderHba', () => {
  it('trusts the superuser on the socket and asks everyone else for scram over TCP', () => {
    const r = rules(renderHba({ replicationRole: 'replicator' }));
    expect(r).toEqual([
      ['local', 'all', 'postgres', 'trust'],
      ['local', 'replication', 'postgres', 'trust'],
      ['local', 'all', 'all', 'scram-sha-256'],
      ['host', 'all', 'all', '127.0.0.1/32', 'scram-sha-256'],
      ['host', 'replication', 'replicator', '127.0.0.1/32', 'scram-sha-256'],
    ]);
  });

  it('only accepts TLS over TCP when TLS is forced', () => {
    const r = rules(
      renderHba({ replicationRole: 'replicator', forceTls: true, addresses: ['127.0.0.1/32', '10.0.0.0/8'] }),
    );
    const tcp = r.filter((x) => x[0] !== 'local');
    expect(tcp).toHaveLength(4);
    expect(tcp.every((x) => x[0] === 'hostssl')).toBe(true);
    expect(tcp.map((x) => x[3])).toEqual(['127.0.0.1/32', '127.0.0.1/32', '10.0.0.0/8', '10.0.0.0/8']);
  });

  it('limits TCP to the listed roles, quoting unusual names', () => {
    const r = rules(renderHba({ replicationRole: 'repl', roles: ['app', 'Odd Name'] }));
    expect(r[3]).toEqual(['host', 'all', 'app,"Odd', 'Name"', '127.0.0.1/32', 'scram-sha-256']);
  });
});
