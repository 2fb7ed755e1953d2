import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { callerKeyOf } from './authentication.js';
import { reject } from './rejections.js';

/** What the API answered to the first request with a key: replayed to every repeat of it. */
export interface Answered {
  key: string;
  /** sha256 of method, URL and body: the same key with another request is a mistake. */
  fingerprint: string;
  status: number;
  body: string;
  at: number;
}

/** How long a key is remembered, and how many at most. */
const KEEP_MS = 24 * 3600_000;
const MAX_KEYS = 10_000;
const KEY = /^[\x21-\x7e]{1,120}$/;
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The API's record of `Idempotency-Key`s: key -> (request fingerprint, answer), in memory and
 * appended to a file (one JSON line per key) so a restarted API still answers a repeat; keys
 * older than a day are dropped when the file is loaded.
 */
export class IdempotencyRecords {
  private readonly answered = new Map<string, Answered>();
  private readonly inFlight = new Map<string, { fingerprint: string; done: Promise<Answered> }>();

  constructor(private readonly file?: string) {
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    if (existsSync(file)) {
      const now = Date.now();
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const a = parseLine(line);
        if (a && now - a.at < KEEP_MS) this.answered.set(a.key, a);
      }
    }
    this.trim();
    const kept = [...this.answered.values()].map((a) => `${JSON.stringify(a)}\n`).join('');
    writeFileSync(file, kept, { mode: 0o600 });
  }

  get(key: string): Answered | undefined {
    return this.answered.get(key);
  }

  running(key: string): { fingerprint: string; done: Promise<Answered> } | undefined {
    return this.inFlight.get(key);
  }

  /**
   * A request with this key starts; `finish` records (or, for a server error or with `keep` false,
   * forgets) its answer. A repeat waiting for it gets the answer either way.
   */
  begin(key: string, fingerprint: string): (status: number, body: string, keep?: boolean) => void {
    let resolve: (a: Answered) => void = () => undefined;
    const done = new Promise<Answered>((r) => {
      resolve = r;
    });
    this.inFlight.set(key, { fingerprint, done });
    return (status, body, keep = true) => {
      const answer: Answered = { key, fingerprint, status, body, at: Date.now() };
      this.inFlight.delete(key);
      // A server error (lost NATS, a timeout) did not answer: the client may try again with the key.
      if (status < 500 && keep) this.remember(answer);
      resolve(answer);
    };
  }

  private remember(answer: Answered): void {
    this.answered.set(answer.key, answer);
    this.trim();
    if (this.file) appendFileSync(this.file, `${JSON.stringify(answer)}\n`, { mode: 0o600 });
  }

  private trim(): void {
    const excess = this.answered.size - MAX_KEYS;
    if (excess <= 0) return;
    for (const key of [...this.answered.keys()].slice(0, excess)) this.answered.delete(key);
  }
}

function parseLine(line: string): Answered | undefined {
  if (!line.trim()) return undefined;
  try {
    const a = JSON.parse(line) as Answered;
    return typeof a.key === 'string' && typeof a.status === 'number' && typeof a.body === 'string' ? a : undefined;
  } catch {
    return undefined; // a line cut by a crash
  }
}

/**
 * The request's identity for its key: caller, method, URL (path and query) and body. With the
 * caller in it, another token sending the same key is refused rather than given the first answer.
 */
function fingerprintOf(caller: string, method: string, url: string, body: unknown): string {
  return createHash('sha256')
    .update(`${caller} ${method} ${url}\n${JSON.stringify(body ?? null)}`)
    .digest('hex');
}

/** The `Idempotency-Key` of a request, if it sent one. */
export function idempotencyKeyOf(req: FastifyRequest): string | undefined {
  const value = req.headers['idempotency-key'];
  return typeof value === 'string' ? value : undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    finishIdempotent?: (status: number, body: string, keep?: boolean) => void;
  }
}

/**
 * An answer that carries a secret (a new account token) is neither kept in memory nor written to
 * `idempotency.jsonl`: the key is freed once it is sent, and a later repeat runs again.
 */
export function keepAnswerOutOfRecords(req: FastifyRequest): void {
  const finish = req.finishIdempotent;
  if (finish) req.finishIdempotent = (status, body) => finish(status, body, false);
}

/**
 * `Idempotency-Key` on every POST, PUT, PATCH and DELETE: the first request with a key runs
 * (its key becomes the command's `meta.commandId`); a repeat with the same method, URL and body
 * gets the first answer again (`idempotent-replayed: true`), even while the first still runs; a
 * repeat with anything else is refused with 409 IDEMPOTENCY_KEY_REUSED.
 */
export function registerIdempotency(app: FastifyInstance, records: IdempotencyRecords): void {
  app.addHook('preHandler', async (req, reply) => {
    const key = idempotencyKeyOf(req);
    if (key === undefined || !MUTATING.has(req.method)) return;
    if (!KEY.test(key)) {
      const message = 'Idempotency-Key must be 1 to 120 printable characters without spaces (e.g. a UUID)';
      return reject(reply, { code: 'VALIDATION_FAILED', message, details: { field: 'Idempotency-Key' } });
    }
    const fingerprint = fingerprintOf(callerKeyOf(req), req.method, req.url, req.body);
    const running = records.running(key);
    const first = records.get(key) ?? (running?.fingerprint === fingerprint ? await running.done : undefined);
    const usedFor = first?.fingerprint ?? running?.fingerprint;
    if (usedFor !== undefined && usedFor !== fingerprint) {
      const message = `Idempotency-Key ${key} was already used for another request; use a new key for this one`;
      return reject(reply, { code: 'IDEMPOTENCY_KEY_REUSED', message, details: { field: 'Idempotency-Key' } });
    }
    if (first) {
      return reply
        .code(first.status)
        .header('content-type', 'application/json; charset=utf-8')
        .header('idempotent-replayed', 'true')
        .send(first.body);
    }
    req.finishIdempotent = records.begin(key, fingerprint);
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const finish = req.finishIdempotent;
    if (!finish) return payload;
    req.finishIdempotent = undefined;
    finish(reply.statusCode, typeof payload === 'string' ? payload : String(payload ?? ''));
    return payload;
  });

  // A request that ended without going through onSend frees its key.
  app.addHook('onResponse', async (req) => {
    req.finishIdempotent?.(500, '');
    req.finishIdempotent = undefined;
  });
}
