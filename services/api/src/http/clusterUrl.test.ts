import { describe, expect, it } from 'vitest';
import { clusterUrl } from './networkRoutes.js';

const c = { user: 'app', password: 'p@ss/word', database: 'app' };

describe('a cluster URL', () => {
  it('names the one address its gateways share', () => {
    expect(clusterUrl(c, [{ host: '127.0.0.1', port: 7000 }], false)).toBe(
      'postgresql://app:p%40ss%2Fword@127.0.0.1:7000/app',
    );
  });

  it('names every address of gateways on distinct hosts, the writes asking for the session that takes them', () => {
    const at = [
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7002 },
    ];
    expect(clusterUrl(c, at, false)).toBe(
      'postgresql://app:p%40ss%2Fword@10.0.0.1:7000,10.0.0.2:7002/app?target_session_attrs=read-write',
    );
    expect(clusterUrl(c, at, true)).toBe('postgresql://app:p%40ss%2Fword@10.0.0.1:7000,10.0.0.2:7002/app');
  });
});
