/**
 * `Expect` headers. Node answers an expectation it does not know (anything but 100-continue) with a
 * bare 417 before Fastify sees the request: no error body, no request id, no log line. Handing such
 * requests to Fastify instead lets them be refused like any other bad request.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { ServiceError } from '../errors.ts';

const expectation: FastifyPluginAsync = async (app) => {
  app.server.on('checkExpectation', (request, response) => app.server.emit('request', request, response));
  app.addHook('onRequest', async (request) => {
    const expect = request.headers.expect;
    if (expect !== undefined && expect.toLowerCase() !== '100-continue')
      throw new ServiceError('REQUEST_EXPECTATION_FAILED');
  });
};

export const expectationPlugin = fp(expectation, { name: 'expectation' });
