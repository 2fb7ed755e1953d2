import { describe, expect, it } from 'vitest';
import { placeNodes } from './placement.js';

const hosts = (...loads: number[]) => loads.map((nodes, i) => ({ host: `h${i + 1}`, nodes }));

describe('placeNodes', () => {
  it("puts a business cluster's three data nodes on three distinct hosts, least loaded first", () => {
    expect(placeNodes(['node1', 'node2', 'node3'], hosts(5, 0, 2, 1))).toEqual([
      { nodeId: 'node1', host: 'h2' },
      { nodeId: 'node2', host: 'h4' },
      { nodeId: 'node3', host: 'h3' },
    ]);
  });

  it('spreads three nodes over two hosts as evenly as they allow', () => {
    const placed = placeNodes(['node1', 'node2', 'node3'], hosts(0, 0));
    expect(placed.map((p) => p.host)).toEqual(['h1', 'h2', 'h1']);
  });

  it('keeps the hosts of nodes already placed and counts them in the spread', () => {
    const placed = placeNodes(['node1', 'node2', 'node3'], hosts(1, 0, 0), [{ nodeId: 'node1', host: 'h2' }]);
    expect(placed).toEqual([
      { nodeId: 'node2', host: 'h3' },
      { nodeId: 'node3', host: 'h1' },
    ]);
  });

  it('places nothing without a host', () => {
    expect(placeNodes(['node1'], [])).toEqual([]);
  });
});
