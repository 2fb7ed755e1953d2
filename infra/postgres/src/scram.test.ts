import { describe, expect, it } from 'vitest';
import { scramVerifier } from './scram.js';

describe('scramVerifier', () => {
  // A real server accepting the password for this verifier is proven in infra/runtime's integration tests.
  it("has PostgreSQL's verifier format and is deterministic for a salt", () => {
    const v = scramVerifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
    expect(v).toMatch(/^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
    expect(v).toBe(scramVerifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64')));
  });

  it('never contains the password and differs per salt', () => {
    const a = scramVerifier('hunter2hunter2');
    expect(a).not.toContain('hunter2');
    expect(scramVerifier('hunter2hunter2')).not.toBe(a);
  });
});
