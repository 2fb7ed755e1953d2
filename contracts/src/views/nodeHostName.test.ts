import { describe, expect, it } from 'vitest';
import { nodeHostName, runtimeNodeId } from './cluster.js';

describe('nodeHostName', () => {
  it('is the runtime id when that is a valid DNS label', () => {
    expect(nodeHostName(runtimeNodeId('shop-e56f641d', 'node1'))).toBe('shop-e56f641d--node1');
  });

  it('is a stable hash of at most 63 characters for a long cluster name or an underscore', () => {
    const long = runtimeNodeId(`${'warehouse-'.repeat(6)}eu-0f1e2d3c`, 'node2');
    const underscore = runtimeNodeId('my_shop-0f1e2d3c', 'node1');
    for (const id of [long, underscore]) {
      const name = nodeHostName(id);
      expect(name).toMatch(/^n-[0-9a-f]{24}$/);
      expect(nodeHostName(id)).toBe(name);
    }
    expect(nodeHostName(long)).not.toBe(nodeHostName(runtimeNodeId(`${'warehouse-'.repeat(6)}eu-0f1e2d3c`, 'node3')));
  });
});
