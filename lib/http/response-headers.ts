/**
 * The security headers of lib/security-headers.ts on every response, errors included: the JSON
 * set on JSON bodies, the common set on the rest (HTML pages bring their own policy). A header a
 * route already set is kept. Wrapped with fastify-plugin so it covers every route.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { COMMON_SECURITY_HEADERS, JSON_SECURITY_HEADERS } from '../security-headers.ts';

const responseHeaders: FastifyPluginAsync = async (app) => {
  app.addHook('onSend', async (_request, reply) => {
    const isJson = String(reply.getHeader('content-type') ?? '').startsWith('application/json');
    for (const [name, value] of Object.entries(isJson ? JSON_SECURITY_HEADERS : COMMON_SECURITY_HEADERS)) {
      if (!reply.hasHeader(name)) reply.header(name, value);
    }
  });
};

export const responseHeadersPlugin = fp(responseHeaders, { name: 'response-headers' });
