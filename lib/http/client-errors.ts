/**
 * Errors Node's HTTP parser raises on a connection, with no request for Fastify to answer: a
 * stalled upload, oversized headers, bytes that are not HTTP. They get the API's error shape too,
 * written straight to the socket (Fastify's clientErrorHandler), and the connection is closed, as
 * Node itself does.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RequestErrorCode, ServiceError, toErrorResponse } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { JSON_SECURITY_HEADERS } from '../security-headers.ts';

const CLIENT_ERRORS: Record<string, RequestErrorCode> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HPE_HEADER_OVERFLOW: 'REQUEST_HEADERS_TOO_LARGE',
};

export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, logger: Logger): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { statusCode, body } = toErrorResponse(
    new ServiceError(CLIENT_ERRORS[error.code ?? ''] ?? 'REQUEST_MALFORMED'),
  );
  logger.info('Client error', { status: statusCode, code: body.code, cause: error.code });
  const payload = JSON.stringify(body);
  const headers = Object.entries({
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(payload)),
    ...JSON_SECURITY_HEADERS,
    connection: 'close',
  });
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\n` +
        `${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n${payload}`,
    );
  socket.destroy();
}
