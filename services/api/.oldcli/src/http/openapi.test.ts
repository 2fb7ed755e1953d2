import { describe, expect, it } from 'vitest';
import { openApiDocument } from './openapi.js';

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 with the create-cluster body generated from the zod schema', () => {
    const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: { 'application/json': { schema: { properties: Record<string, unknown>; required?: string[] } } } } }>> };
    expect(doc.openapi).toBe('3.1.0');
    const body = doc.paths['/v1/clusters']!.post!.requestBody!.content['application/json'].schema;
    expect(Object.keys(body.properties).sort()).toEqual(['accountId', 'name', 'plan', 'version']);
    expect(body.required).toEqual(['name', 'plan']);
    expect(JSON.stringify(body.properties.plan)).toContain('business-1024');
  });
});
