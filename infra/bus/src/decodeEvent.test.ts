import { describe, expect, it } from 'vitest';
import { UPCASTERS, uuidv7 } from '@pgfleet/contracts';
import { decodeEvent } from './decodeEvent.js';

const body = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const envelope = (type: string, schemaVersion: number, data: unknown) => ({
  id: uuidv7(),
  type,
  data,
  streamId: 'cluster-c1',
  streamVersion: 1,
  globalPosition: '1',
  occurredAt: '2024-01-01T00:00:00.000Z',
  schemaVersion,
  correlationId: 'c',
  causationId: null,
  actor: { kind: 'system', id: 'pgfleet' },
});

describe('decodeEvent', () => {
  it('upcasts an old schema version and returns the envelope at the current version', () => {
    const decoded = decodeEvent(
      body(envelope('NodeProvisioned', 1, { nodeId: 'n1', role: 'leader', port: 6001, dataDir: '/d' })),
    );
    expect(decoded).toMatchObject({
      ok: true,
      value: { schemaVersion: 2, data: { nodeId: 'n1', role: 'leader', port: 6001 } },
    });
    expect(decoded.ok && decoded.value.data).not.toHaveProperty('dataDir');
  });

  it('rejects a version nothing can upcast with UPCAST_FAILED, and never throws, even when an upcaster fails', () => {
    expect(decodeEvent(body(envelope('NodeStopped', 9, { nodeId: 'n1' })))).toMatchObject({
      ok: false,
      rejection: { code: 'UPCAST_FAILED', details: { field: 'schemaVersion' } },
    });
    const steps = UPCASTERS.NodeProvisioned!;
    const original = steps[1]!;
    steps[1] = () => {
      throw new TypeError('upcaster bug');
    };
    try {
      expect(
        decodeEvent(body(envelope('NodeProvisioned', 1, { nodeId: 'n1', role: 'leader', port: 1 }))),
      ).toMatchObject({
        ok: false,
        rejection: { code: 'UPCAST_FAILED', message: expect.stringMatching(/upcaster bug/) },
      });
    } finally {
      steps[1] = original;
    }
    for (const bad of [null, 7, [], { type: 'NodeStopped' }]) expect(decodeEvent(body(bad)).ok).toBe(false);
    expect(decodeEvent(new Uint8Array([0xff, 0xfe]))).toMatchObject({
      ok: false,
      rejection: { code: 'MALFORMED_JSON' },
    });
  });
});
