import { describe, expect, it } from 'vitest';
import { openApiDocument } from './openapi.js';

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 with the create-cluster body generated from the zod schema', () => {
    type Schema = { properties: Record<string, unknown>; required?: string[] };
    type Operation = { requestBody?: { content: { 'application/json': { schema: Schema } } } };
    const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, Operation>> };
    expect(doc.openapi).toBe('3.1.0');
    const body = doc.paths['/v1/clusters']!.post!.requestBody!.content['application/json'].schema;
    expect(Object.keys(body.properties).sort()).toEqual(['accountId', 'durability', 'name', 'plan', 'version']);
    expect(body.required).toEqual(['name', 'plan']);
    expect(JSON.stringify(body.properties.plan)).toContain('business-1024');
  });

  it('documents the operation routes, and the Idempotency-Key header and the 202 of every long action', () => {
    type Op = { parameters?: { name: string; in: string }[]; responses: Record<string, unknown> };
    const doc = openApiDocument() as { paths: Record<string, Record<string, Op>> };
    expect(doc.paths['/v1/operations/{id}']?.get).toBeDefined();
    expect(doc.paths['/v1/clusters/{name}/operations']?.get).toBeDefined();
    const long = [
      ['/v1/clusters/{name}/switchover', 'post'],
      ['/v1/clusters/{name}/failover', 'post'],
      ['/v1/clusters/{name}/tls', 'post'],
      ['/v1/clusters/{name}/certs', 'post'],
      ['/v1/clusters/{name}/expose', 'post'],
      ['/v1/clusters/{name}/unexpose', 'post'],
      ['/v1/clusters/{name}/backups/{id}/restore', 'post'],
      ['/v1/clusters/{name}/retry', 'post'],
      ['/v1/clusters/{name}', 'delete'],
      ['/v1/clusters/{name}/durability', 'put'],
    ] as const;
    for (const [path, method] of long) {
      const op = doc.paths[path]![method]!;
      // Setting the durability is a plain command: 200 with the new setting, no operation.
      expect(op.responses[method === 'put' ? '200' : '202'], `${method} ${path}`).toBeDefined();
      expect(
        op.parameters?.some((p) => p.name === 'Idempotency-Key' && p.in === 'header'),
        path,
      ).toBe(true);
    }
  });

  it('documents the HA bodies (failover, durability) and the HA state that show answers, from zod', () => {
    type Schema = { properties: Record<string, unknown>; required?: string[] };
    type Content = { content: { 'application/json': { schema: Schema } } };
    type Op = { requestBody?: Content; responses: Record<string, Content> };
    const doc = openApiDocument() as { paths: Record<string, Record<string, Op>> };
    const body = (path: string, method: string) =>
      doc.paths[path]![method]!.requestBody!.content['application/json'].schema;
    expect(Object.keys(body('/v1/clusters/{name}/failover', 'post').properties).sort()).toEqual([
      'acceptDataLoss',
      'to',
    ]);
    const durability = body('/v1/clusters/{name}/durability', 'put');
    expect(durability.required).toEqual(['durability']);
    expect(JSON.stringify(durability.properties.durability)).toContain('available');
    const shown = doc.paths['/v1/clusters/{name}']!.get!.responses['200']!.content['application/json'].schema;
    for (const field of ['durability', 'term', 'lastFailover', 'syncDegradedAt', 'dataLossFailover', 'nodes']) {
      expect(shown.properties, field).toHaveProperty(field);
    }
  });
});
