import { EVENTS, InvoiceLine } from '@pgfleet/contracts';
import { z } from 'zod';
import { json, error } from './openapiParts.js';

const Invoice = EVENTS.InvoiceIssued.schema.extend({ lines: z.array(InvoiceLine) });
const UsageAnswer = z.object({ status: z.literal('running'), until: z.string(), invoice: Invoice });
const InvoiceAnswer = z.object({
  status: z.enum(['issued', 'corrected', 'pending', 'recomputed']),
  invoice: Invoice.extend({ replaces: z.string().optional(), reason: z.string().optional() }),
  inForceHash: z.string().optional(),
});
const accountParam = { name: 'accountId', in: 'path', required: true, schema: { type: 'string' } };
const unavailable = { 503: error('the billing service is not answering (SERVICE_UNAVAILABLE)') };

/** The OpenAPI paths of the billing routes (see billingRoutes.ts), answered by the `billing` service. */
export function billingPaths(): Record<string, unknown> {
  return {
    '/v1/accounts/{accountId}/usage': {
      get: {
        summary:
          'The running month so far: the invoice the account would get if the month ended now (lines per ' +
          'cluster and plan period, each rounded half up to the cent once)',
        parameters: [accountParam],
        responses: { 200: { description: 'usage', content: json(UsageAnswer) }, ...unavailable },
      },
    },
    '/v1/accounts/{accountId}/invoices/{month}': {
      get: {
        summary:
          "A closed month's invoice (YYYY-MM, UTC): the one in force (issued, or its latest correction), or " +
          'computed from the events when not issued yet; `recompute=true` computes it again (`inForceHash`: the ' +
          'hash it must equal)',
        parameters: [
          accountParam,
          { name: 'month', in: 'path', required: true, schema: { type: 'string', pattern: '^\\d{4}-\\d{2}$' } },
          { name: 'recompute', in: 'query', required: false, schema: { type: 'string', enum: ['true', 'false'] } },
        ],
        responses: {
          200: { description: 'invoice', content: json(InvoiceAnswer) },
          400: error('invalid month or account'),
          409: error('the month is not over yet (MONTH_NOT_CLOSED)'),
          ...unavailable,
        },
      },
    },
  };
}
