import { z } from 'zod';
import { ErrorBody } from './schemas.js';

/** An OpenAPI `content` of JSON described by a zod schema (its input shape). */
export const json = (schema: z.ZodType) => ({
  'application/json': { schema: z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) },
});

/** An OpenAPI error response: the description and the error body every route answers with. */
export const error = (description: string) => ({ description, content: json(ErrorBody) });
