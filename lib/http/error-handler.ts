/**
 * Every error the server answers, in the API's error shape (`{message, code, errors?}` with its
 * status and Retry-After or Allow): thrown ServiceErrors, Fastify's own errors translated into the
 * API's codes, 404 and 405 for unknown routes and methods, and a bare 500 for the rest. Wrapped with
 * fastify-plugin: the error and not-found handlers must be the root instance's.
 */
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type RequestErrorCode, ServiceError, routeMissing, toErrorResponse } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { requestInvalid } from '../validation.ts';

export type ErrorSender = (request: FastifyRequest, reply: FastifyReply, error: unknown) => FastifyReply;

export interface ErrorHandlerOptions {
  /** Logs unexpected errors of requests that have no logger of their own yet. */
  logger: Logger;
}

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

// Fastify's own client errors, translated into the API's codes.
const FASTIFY_ERRORS: Record<string, RequestErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'REQUEST_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'REQUEST_MALFORMED',
  FST_ERR_BAD_URL: 'REQUEST_MALFORMED',
};

/** Answers an error in the API's shape, logging it unless it is a ServiceError; also Fastify's frameworkErrors. */
export function errorSender(logger: Logger): ErrorSender {
  return (request, reply, error) => {
    const translated = translate(error);
    const { statusCode, body, headers } = toErrorResponse(translated);
    // Only for what is logged: the request's logger is made on first use. Without the request-log
    // plugin (bare instances in tests), there is none.
    if (!(translated instanceof ServiceError))
      ((request.logger as Logger | undefined) ?? logger).error('Unexpected error', error as Error);
    request.errorBody = body;
    return reply.code(statusCode).headers(headers).send(body);
  };
}

const errorHandler: FastifyPluginAsync<ErrorHandlerOptions> = async (app, { logger }) => {
  const sendError = errorSender(logger);
  const missingRoute = (requestUrl: string): ServiceError => {
    const url = requestUrl.split('?')[0] ?? '/';
    return routeMissing(HTTP_METHODS.filter((method) => app.hasRoute({ method, url })));
  };
  // Unknown route or method: answered here, before Fastify looks at (or waits for) a body.
  app.addHook('onRequest', async (request) => {
    if (request.is404) throw missingRoute(request.url);
  });
  app.setErrorHandler((error: FastifyError, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) => sendError(request, reply, missingRoute(request.url)));
};

export const errorHandlerPlugin = fp(errorHandler, { name: 'error-handler' });

/**
 * Fastify's errors in the API's terms. Its other client errors (4xx) are malformed requests;
 * anything else stays as is and becomes a 500.
 */
function translate(error: unknown): unknown {
  if (error instanceof ServiceError) return error;
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation) return requestInvalid(fastifyError.validation as Parameters<typeof requestInvalid>[0]);
  const code = fastifyError.code && FASTIFY_ERRORS[fastifyError.code];
  if (code) return new ServiceError(code, undefined, { cause: error });
  const status = fastifyError.statusCode ?? 500;
  if (fastifyError.code?.startsWith('FST_') && status >= 400 && status < 500)
    return new ServiceError('REQUEST_MALFORMED', undefined, { cause: error });
  return error;
}
