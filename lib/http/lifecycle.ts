/**
 * Draining on shutdown: once the server is closing, a new request gets 503 SERVICE_SHUTTING_DOWN
 * (with Retry-After) while those in flight finish, and every response closes its keep-alive
 * connection, or idle sockets would keep the server open until their timeout. Wrapped with
 * fastify-plugin so its hooks cover every route and the not-found handler.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { RETRY_AFTER_SECONDS, ServiceError } from '../errors.ts';

export interface LifecycleOptions {
  /** True from the moment the server starts closing. */
  isClosing: () => boolean;
}

const lifecycle: FastifyPluginAsync<LifecycleOptions> = async (app, { isClosing }) => {
  app.addHook('onRequest', async () => {
    if (isClosing())
      throw new ServiceError('SERVICE_SHUTTING_DOWN', undefined, { retryAfterSeconds: RETRY_AFTER_SECONDS });
  });
  app.addHook('onSend', async (_request, reply) => {
    if (isClosing()) reply.header('connection', 'close');
  });
};

export const lifecyclePlugin = fp(lifecycle, { name: 'lifecycle' });
