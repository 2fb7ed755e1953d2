import { createHash } from 'node:crypto';
import type { Invoice } from './pricing.js';

/**
 * JSON with every object's keys sorted, at every depth: the same invoice gives the same bytes
 * whatever built it (a fresh computation, or an event read back from the store, whose JSON
 * column does not keep key order).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The invoice's canonical JSON without its hash: what the hash is computed over. */
export function invoiceBytes(invoice: Invoice): string {
  const { accountId, month, currency, lines, totalCents } = invoice;
  return canonicalJson({ accountId, month, currency, lines, totalCents });
}

/** sha256 (hex) of the invoice's canonical JSON. */
export const invoiceHash = (invoice: Invoice): string =>
  createHash('sha256').update(invoiceBytes(invoice)).digest('hex');
