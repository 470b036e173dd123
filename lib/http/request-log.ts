/**
 * One JSON log line per request, and a logger for each request that stamps its lines with the
 * request id (echoed in x-request-id, so a caller can find them). Wrapped with fastify-plugin: its
 * hooks and the `logger` decoration must reach every route, not only this plugin's.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
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
  // Made on first use: Powertools builds a whole Logger for a child (its console included), which
  // cost more CPU than the rest of a request refused under overload (measured with --cpu-prof).
  // Most requests log only their line, which carries the id itself.
  const children = new WeakMap<FastifyRequest, Logger>();
  app.decorateRequest('logger', {
    getter(this: FastifyRequest): Logger {
      let child = children.get(this);
      if (!child) {
        child = logger.createChild({ persistentKeys: { request_id: this.id } });
        children.set(this, child);
      }
      return child;
    },
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    logger.info('Request completed', {
      request_id: request.id,
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
