import type { FastifyInstance } from 'fastify';

/** Deeper than any body of the API: a request body nested deeper is refused before it is parsed. */
const MAX_BODY_DEPTH = 32;

/** How deep `[` and `{` nest in JSON text (brackets inside strings do not count); stops past `limit`. */
function nestingDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      deepest = Math.max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/**
 * JSON bodies as fastify parses them (prototype poisoning refused), after a depth check: a body
 * nested thousands of levels deep parses fine but overflows the stack of whatever walks it
 * recursively later (`JSON.stringify` of the idempotency fingerprint did: a 500).
 */
export function registerJsonBody(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (nestingDepth(body as string, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
      const error = Object.assign(new Error(`request body nests deeper than ${MAX_BODY_DEPTH} levels`), {
        statusCode: 400,
        code: 'BODY_TOO_DEEP',
      });
      return done(error, undefined);
    }
    parse(req, body as string, done);
  });
}
