/**
 * The API's documentation: the OpenAPI document (@fastify/swagger, built from the routes' shared
 * schemas) at /openapi.json and Swagger UI at /docs, under a Content-Security-Policy narrowed to
 * this server. Wrapped with fastify-plugin: @fastify/swagger must sit on the root instance to see
 * the routes registered after it, so register this before them.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';

/**
 * The one inline <style> element Swagger UI's bundle inserts. If an upgrade changes it, the
 * browser test of /docs fails and Chromium's message gives the new hash.
 */
const SWAGGER_UI_STYLE_HASH = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";

/**
 * Swagger UI's policy as @fastify/swagger-ui computes it, narrowed to this server: no external
 * validator, stylesheets or fonts, no framing (as X-Frame-Options says), no https upgrade (which
 * breaks http://localhost), and its own inline style allowed by hash.
 */
export function docsContentSecurityPolicy(policy: string): string {
  return policy
    .replace(/ validator\.swagger\.io/, '')
    .replace(/ https:/g, '')
    .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
    .replace("style-src 'self'", `style-src 'self' ${SWAGGER_UI_STYLE_HASH}`)
    .replace(/\s*upgrade-insecure-requests;?/, '');
}

const docs: FastifyPluginAsync = async (app) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Image classification API',
        version: '1.0.0',
        description:
          'Classifies images (by URL or base64 data) with an ImageNet model. ' +
          'Errors share one shape: `{message, code, errors?}`.',
      },
      components: {
        // Named by the /v1 routes' `security` (lib/routes.ts): needed only when the server has API keys.
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key as a bearer token, when the server has keys (API_KEYS, API_KEYS_FILE).',
          },
          apiKey: {
            type: 'apiKey',
            in: 'header',
            name: 'x-api-key',
            description: 'An API key in x-api-key, when the server has keys (API_KEYS, API_KEYS_FILE).',
          },
        },
      },
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { validatorUrl: null },
    staticCSP: true,
    transformStaticCSP: docsContentSecurityPolicy,
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
};

export const docsPlugin = fp(docs, { name: 'docs' });
