import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { networkIsolation } from './isolation.js';

describe('network isolation of a docker host', () => {
  it('makes no rules for an engine reached over TCP (another machine) and says so once', async () => {
    const lines: string[] = [];
    const isolation = networkIsolation(new Docker({ host: '192.0.2.10', port: 2376, protocol: 'https' }), (line) =>
      lines.push(line),
    );
    await isolation.add('pgf0123456789a');
    await isolation.remove('pgf0123456789a');
    expect(lines).toEqual([
      'docker driver: network isolation rules are not applied on the remote docker host https://192.0.2.10:2376; ' +
        "clusters there are kept apart only by that engine's own isolation or that host's firewall",
    ]);
  });
});
