import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { uuidv7 } from './ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('has the UUID layout, version 7 and the RFC 9562 variant', () => {
    for (let i = 0; i < 100; i++) {
      const id = uuidv7();
      expect(id).toMatch(UUID_V7);
      expect(z.uuid({ version: 'v7' }).safeParse(id).success).toBe(true);
    }
  });

  it('carries the unix milliseconds in its first 48 bits', () => {
    const at = Date.parse('2025-06-01T12:34:56.789Z');
    const id = uuidv7(at);
    expect(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16)).toBe(at);
  });

  it('ids of later milliseconds sort after earlier ones; ids of one millisecond differ', () => {
    const base = Date.parse('2025-01-01T00:00:00Z');
    const ids = Array.from({ length: 50 }, (_, i) => uuidv7(base + i * 7));
    expect([...ids].sort()).toEqual(ids);
    const same = new Set(Array.from({ length: 1000 }, () => uuidv7(base)));
    expect(same.size).toBe(1000);
  });
});
