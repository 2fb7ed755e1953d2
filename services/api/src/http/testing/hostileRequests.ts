import { Agent, request } from 'node:http';
import fc from 'fast-check';
import { hostileJson, hostileString, malformedJson, unknownKeys, withUnknownKeys } from './hostileValues.js';
import { invalidOf, type JsonSchema } from './schemaArbitraries.js';

/** One route of the OpenAPI document: method, path template, its parameters and its JSON body schema. */
export interface Route {
  method: string;
  path: string;
  pathParams: string[];
  queryParams: string[];
  body?: JsonSchema;
}

type Operation = {
  parameters?: { name: string; in: string }[];
  requestBody?: { content: { 'application/json'?: { schema: JsonSchema } } };
};

/** Every route the API documents (all of them: the OpenAPI document is generated with the routes). */
export function routesOf(doc: { paths: Record<string, Record<string, Operation>> }): Route[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => {
      const params = op.parameters ?? [];
      const body = op.requestBody?.content['application/json']?.schema;
      return {
        method: method.toUpperCase(),
        path,
        pathParams: [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!),
        queryParams: params.filter((p) => p.in === 'query').map((p) => p.name),
        ...(body ? { body } : {}),
      };
    }),
  );
}

export interface HostileRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** Path segments that are not plain percent-encoded text: traversal, bad encodings, invalid UTF-8. */
const RAW_SEGMENTS = ['..', '.', '%', '%zz', '%00', '%2F', '%2e%2e', '%c0%ae%c0%ae', '%E0%A4%A', '%ED%A0%80', '%FF'];

/** Percent-encoded UTF-8 (a lone surrogate, which has none, becomes U+FFFD as a browser sends it). */
const encode = (s: string) => encodeURIComponent(s.replace(/[\uD800-\uDFFF]/gu, '\uFFFD'));

const segment = fc.oneof(
  { weight: 3, arbitrary: hostileString.map((s) => encode(s)) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{1,38}[a-z0-9]$/) },
  { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
);

/** Printable ASCII: what Node lets a client put in a header value. */
const headerText = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 300,
});

const query = (known: string[]) =>
  fc
    .array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom('accountId', ...known),
          hostileString.map((k) => k.slice(0, 50)),
        ),
        hostileString,
      ),
      { maxLength: 3 },
    )
    .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&')}`));

const authorization = (token: string) =>
  fc.oneof(
    { weight: 9, arbitrary: fc.constant(`Bearer ${token}`) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('', 'Bearer ', `Bearer ${token}x`, `Basic ${token}`, 'Bearer \t')
        .chain((a) => fc.constant(a)),
    },
    { weight: 1, arbitrary: headerText },
  );

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=utf-16',
      '',
      'application/xml',
    ),
  },
);

/** A body for this route: its schema broken (plus unknown keys), JSON of another shape, or not JSON. */
function body(route: Route): fc.Arbitrary<string> {
  const broken = route.body ? invalidOf(route.body) : undefined;
  const shaped = fc.oneof(
    { weight: 1, arbitrary: hostileJson.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: malformedJson },
    ...(broken ? [{ weight: 4, arbitrary: broken.map((v) => JSON.stringify(v) ?? 'null') }] : []),
  );
  const decorated = broken
    ? fc.tuple(broken, unknownKeys, hostileJson).map(([v, keys, x]) => withUnknownKeys(v, keys, x))
    : shaped;
  return fc.oneof({ weight: 3, arbitrary: shaped }, { weight: 1, arbitrary: decorated });
}

/** Requests to one route with hostile path segments, query, headers and (for POST/PUT/DELETE) body. */
export function hostileRequest(route: Route, token: string): fc.Arbitrary<HostileRequest> {
  const segments = fc.array(segment, { minLength: route.pathParams.length, maxLength: route.pathParams.length });
  const hasBody = route.method !== 'GET';
  return fc
    .record({
      segments,
      query: query(route.queryParams),
      auth: authorization(token),
      key: fc.option(fc.oneof(fc.uuid(), headerText), { nil: undefined }),
      type: contentType,
      body: hasBody ? fc.option(body(route), { nil: undefined, freq: 8 }) : fc.constant(undefined),
    })
    .map(({ segments: values, query: q, auth, key, type, body: b }) => {
      let i = 0;
      const url = route.path.replace(/\{\w+\}/g, () => values[i++]!) + q;
      const headers: Record<string, string> = { authorization: auth };
      if (key !== undefined) headers['idempotency-key'] = key;
      if (b !== undefined && type !== '') headers['content-type'] = type;
      return { method: route.method, url, headers, ...(b !== undefined ? { body: b } : {}) };
    });
}

/** A body over the 1 MB limit (1 MB to 3 MB of otherwise plain JSON): the API must answer 413. */
export const oversizedBody = fc
  .integer({ min: (1 << 20) + 1, max: 3 << 20 })
  .map((n) => `{"name":"${'a'.repeat(n)}","plan":"sandbox"}`);

// A connection per request: a server that closes one after refusing a request cannot fail the next.
const agent = new Agent({ keepAlive: false });

export interface Answer {
  status: number;
  text: string;
}

/** Send one request over a real socket; a hang (no answer in `timeoutMs`) rejects. */
export function send(base: string, req: HostileRequest, timeoutMs = 15_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // A length always: Node sends a DELETE body without one (nor chunked), so the server would not read it.
    const length = req.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(req.body)) };
    const headers = { ...req.headers, ...length };
    const r = request(`${base}${req.url}`, { method: req.method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    r.setTimeout(timeoutMs, () => r.destroy(new Error(`no answer within ${timeoutMs} ms (a hang)`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

export const closeAgent = () => agent.destroy();
