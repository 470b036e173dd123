/**
 * API Gateway events in and out: HTTP API (payload 2.0) and REST API (payload 1.0) events become one
 * request shape, base64-encoded bodies decoded; responses are plain JSON results both accept.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyResult } from 'aws-lambda';
import { type ErrorBody, ServiceError, routeMissing, toErrorResponse } from '../errors.ts';
import { callerRequestId } from '../request-id.ts';
import { JSON_SECURITY_HEADERS } from '../security-headers.ts';
import { serializeError } from './response-serializers.ts';

export type HttpEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2;

export interface HttpRequest {
  method: string;
  path: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** As sent: text, or bytes when API Gateway base64-encoded it. */
  body: string | Buffer | undefined;
  /** The caller's x-request-id when it is a sensible one, else API Gateway's request id. */
  requestId: string | undefined;
}

export type HttpResponse = APIGatewayProxyResult & { headers: Record<string, string> };

/**
 * The request an API Gateway event carries. Anything else (a direct invocation with `{}`, `""` or
 * `null`, as `serverless invoke local` sends without --path) throws EVENT_UNSUPPORTED, a 400.
 */
export function readHttpEvent(event: HttpEvent): HttpRequest {
  if (!isHttpEvent(event)) throw new ServiceError('EVENT_UNSUPPORTED');
  const isV2 = event.version === '2.0';
  const v2 = event as APIGatewayProxyEventV2;
  const v1 = event as APIGatewayProxyEvent;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {}))
    if (value !== undefined) headers[name.toLowerCase()] = value;
  return {
    method: (isV2 ? v2.requestContext.http.method : v1.httpMethod).toUpperCase(),
    path: isV2 ? v2.rawPath : v1.path,
    headers,
    body: event.body == null ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64') : event.body,
    requestId: callerRequestId(headers['x-request-id']) ?? event.requestContext?.requestId,
  };
}

function isHttpEvent(event: unknown): event is HttpEvent & { version?: string } {
  if (!isObject(event) || !isObject(event.requestContext)) return false;
  if (event.headers != null && !isObject(event.headers)) return false;
  if (event.body != null && typeof event.body !== 'string') return false;
  if (event.version === '2.0') {
    return (
      isObject(event.requestContext.http) &&
      typeof event.requestContext.http.method === 'string' &&
      typeof event.rawPath === 'string'
    );
  }
  return typeof event.httpMethod === 'string' && typeof event.path === 'string';
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function jsonResponse(statusCode: number, body: string, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', ...JSON_SECURITY_HEADERS, ...headers },
    body,
    isBase64Encoded: false,
  };
}

/** The response for any thrown value, as the HTTP server gives it; also returns the error body for logs and metrics. */
export function errorResponse(error: unknown): { response: HttpResponse; body: ErrorBody } {
  const { statusCode, body, headers } = toErrorResponse(error);
  return { response: jsonResponse(statusCode, serializeError(body), headers), body };
}

/**
 * The handler of a function's route ("GET /health", ...) for the request, or the 404 or 405 (with
 * the methods `path` takes, for Allow) that the server would answer. Through API Gateway only the
 * declared routes reach a function; this answers direct invocations.
 */
export function routeFor<T>(routes: Record<string, T>, request: HttpRequest): T {
  const handler = routes[`${request.method} ${request.path}`];
  if (handler) return handler;
  const keys = Object.keys(routes).filter((key) => key.endsWith(` ${request.path}`));
  throw routeMissing(keys.map((key) => key.split(' ')[0]!));
}
