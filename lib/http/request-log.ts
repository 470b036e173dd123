/**
 * One JSON log line per request, and a logger for each request that stamps its lines with the
 * request id (echoed in x-request-id, so a caller can find them). Wrapped with fastify-plugin: its
 * hooks and the `logger` decoration must reach every route, not only this plugin's.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { ErrorBody } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { type StageTimings, round, roundTimings } from '../timings.ts';

declare module 'fastify' {
  interface FastifyRequest {
    logger: Logger;
    /** Stage timings of a prediction, for the request's log line. */
    timings?: StageTimings;
    /** The error answered, for the request's log line. */
    errorBody?: ErrorBody;
  }
}

export interface RequestLogOptions {
  logger: Logger;
}

const requestLog: FastifyPluginAsync<RequestLogOptions> = async (app, { logger }) => {
  app.decorateRequest('logger', null as unknown as Logger);
  app.addHook('onRequest', async (request, reply) => {
    request.logger = logger.createChild({ persistentKeys: { request_id: request.id } });
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.logger.info('Request completed', {
      method: request.method,
      path: request.routeOptions.url ?? request.url.split('?')[0],
      status: reply.statusCode,
      durationMs: round(reply.elapsedTime),
      ...(request.timings && roundTimings(request.timings)),
      ...(request.errorBody && { code: request.errorBody.code, errors: request.errorBody.errors }),
    });
  });
};

export const requestLogPlugin = fp(requestLog, { name: 'request-log' });
