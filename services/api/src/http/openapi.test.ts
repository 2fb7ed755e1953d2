import { describe, expect, it } from 'vitest';
import { openApiDocument } from './openapi.js';

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 with the create-cluster body generated from the zod schema', () => {
    type Schema = { properties: Record<string, unknown>; required?: string[] };
    type Operation = { requestBody?: { content: { 'application/json': { schema: Schema } } } };
    const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, Operation>> };
    expect(doc.openapi).toBe('3.1.0');
    const body = doc.paths['/v1/clusters']!.post!.requestBody!.content['application/json'].schema;
    expect(Object.keys(body.properties).sort()).toEqual(['accountId', 'name', 'plan', 'version']);
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
      ['/v1/clusters/{name}/tls', 'post'],
      ['/v1/clusters/{name}/certs', 'post'],
      ['/v1/clusters/{name}/expose', 'post'],
      ['/v1/clusters/{name}/unexpose', 'post'],
      ['/v1/clusters/{name}/backups/{id}/restore', 'post'],
      ['/v1/clusters/{name}/retry', 'post'],
      ['/v1/clusters/{name}', 'delete'],
    ] as const;
    for (const [path, method] of long) {
      const op = doc.paths[path]![method]!;
      expect(op.responses['202'], `${method} ${path}`).toBeDefined();
      expect(
        op.parameters?.some((p) => p.name === 'Idempotency-Key' && p.in === 'header'),
        path,
      ).toBe(true);
    }
  });
});
