import { describe, expect, it } from 'vitest';
import { parseControlData } from './controlData.js';

const OUTPUT = `pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7312345678901234567
Database cluster state:               shut down
pg_control last modified:             Mon 30 Nov 2026 09:03:39 AM UTC
Latest checkpoint location:           0/3000060
Latest checkpoint's TimeLineID:       1
Data page checksum version:           1
Mock authentication nonce:            4d7c0e
`;

describe('pg_controldata output', () => {
  it('becomes a record keyed by its labels, values with colons intact', () => {
    const data = parseControlData(OUTPUT);
    expect(data).toMatchObject({
      'Database cluster state': 'shut down',
      'Latest checkpoint location': '0/3000060',
      "Latest checkpoint's TimeLineID": '1',
      'pg_control last modified': 'Mon 30 Nov 2026 09:03:39 AM UTC',
    });
    expect(Object.keys(data)).toHaveLength(9);
  });
});
