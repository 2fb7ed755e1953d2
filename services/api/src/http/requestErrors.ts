import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Rejection } from '@pgfleet/contracts';
import { reject } from './rejections.js';

type FastifyFailure = { statusCode?: number; message: string; code?: string };

/**
 * What fastify refuses before a route runs, as a rejection naming what is wrong: a body over the
 * limit (413), of another media type than JSON (415), not JSON, or another bad request (400).
 * Undefined for a server error.
 */
function requestRejection(error: FastifyFailure): Rejection | undefined {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const message = 'request body is over the limit of 1 MiB';
    return { code: 'PAYLOAD_TOO_LARGE', message, details: { field: '(body)', rule: 'max_size' } };
  }
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const message = `request body must be application/json: ${error.message}`;
    return { code: 'UNSUPPORTED_MEDIA_TYPE', message, details: { field: 'content-type', rule: 'media_type' } };
  }
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.message.includes('JSON')) {
    const message = `request body is not valid JSON: ${error.message}`;
    return { code: 'MALFORMED_JSON', message, details: { field: '(body)', rule: 'json' } };
  }
  if (error.code === 'BODY_TOO_DEEP') {
    return { code: 'VALIDATION_FAILED', message: error.message, details: { field: '(body)', rule: 'max_depth' } };
  }
  if (error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    const rule = error.code === 'FST_ERR_BAD_URL' ? 'url_encoding' : 'max_length';
    return { code: 'VALIDATION_FAILED', message: `invalid path: ${error.message}`, details: { field: '(path)', rule } };
  }
  if (!error.statusCode || error.statusCode >= 500) return undefined;
  const field = error.code === undefined || error.code.startsWith('FST_ERR_CTP') ? '(body)' : '(request)';
  return { code: 'VALIDATION_FAILED', message: error.message, details: { field, rule: error.code ?? 'invalid' } };
}

const answer = (reply: FastifyReply, error: FastifyFailure) =>
  reject(reply, requestRejection(error) ?? { code: 'INTERNAL', message: error.message });

/** The status and rejection of a request Node's HTTP parser refuses. */
function clientRejection(error: NodeJS.ErrnoException): [number, Rejection] {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    const message = 'request line and headers are over 16 KiB';
    return [431, { code: 'HEADERS_TOO_LARGE', message, details: { field: '(headers)', rule: 'max_size' } }];
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const message = 'the request took too long to arrive';
    return [408, { code: 'REQUEST_TIMEOUT', message, details: { field: '(request)', rule: 'timeout' } }];
  }
  const message = `not an HTTP request: ${error.code ?? error.message}`;
  return [400, { code: 'MALFORMED_REQUEST', message, details: { field: '(request)', rule: 'http' } }];
}

/**
 * An HTTP request Node's parser refuses (headers over 16 KiB, a broken request line) never reaches
 * fastify: it answers on the socket, with a rejection like every other, and closes it.
 */
function clientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // As Node does: only when nothing was written yet (after an answer, leftover bytes of its body fail to parse).
  if (socket.writable && socket.bytesWritten === 0) {
    const [status, rejection] = clientRejection(error);
    const body = JSON.stringify(rejection);
    const head = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Content-Type: application/json',
      'Connection: close',
    ];
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  }
  socket.destroy(error);
}

/** Fastify's options for what never reaches a route: a bad URL, a request Node cannot parse. */
export const requestErrorOptions = {
  frameworkErrors: (error: FastifyFailure, _req: unknown, reply: FastifyReply) => answer(reply, error),
  clientErrorHandler: clientError,
};

/** Errors thrown before or in a route, and unknown routes, answered as rejections (4xx) or INTERNAL (500). */
export function registerRequestErrors(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyFailure, _req, reply) => answer(reply, error));
  app.setNotFoundHandler((req, reply) =>
    reject(reply, {
      code: 'ROUTE_NOT_FOUND',
      message: `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`,
      details: { field: '(path)', rule: 'known_route' },
    }),
  );
}
