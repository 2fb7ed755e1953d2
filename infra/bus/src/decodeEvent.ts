import { parseEnvelope, type EventEnvelope, type Result } from '@pgfleet/contracts';

const decoder = new TextDecoder();

/** Parse an event message body (JSON envelope) and validate it against its type's schema. */
export function decodeEvent(body: Uint8Array): Result<EventEnvelope> {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(body));
  } catch (error) {
    return {
      ok: false,
      rejection: { code: 'MALFORMED_JSON', message: `event message is not JSON: ${(error as Error).message}`, details: { field: '(root)', rule: 'json' } },
    };
  }
  return parseEnvelope(json);
}
