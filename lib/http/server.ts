/**
 * The HTTP adapter (Fastify): the instance with its timeouts and request ids, and the plugins that
 * make up the server, in the order their hooks must run. Each plugin has one job (see its header);
 * no business logic lives here: predictions come from service.ts.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { callerRequestId } from '../request-id.ts';
import type { Runtime } from '../runtime.ts';
import { createAdmission } from './admission.ts';
import { apiRoutesPlugin } from './api-routes.ts';
import { authPlugin } from './auth.ts';
import { bodyParserPlugin } from './body-parser.ts';
import { answerClientError } from './client-errors.ts';
import { demoPagePlugin } from './demo-page.ts';
import { docsPlugin } from './docs.ts';
import { errorHandlerPlugin, errorSender } from './error-handler.ts';
import { expectationPlugin } from './expectation.ts';
import { lifecyclePlugin } from './lifecycle.ts';
import { metricsPlugin } from './metrics.ts';
import { requestLogPlugin } from './request-log.ts';
import { responseHeadersPlugin } from './response-headers.ts';
import { unreadBodyPlugin } from './unread-body.ts';

/**
 * What the server uses of the runtime (createRuntime gives it all). The classifier is there once it
 * is loaded and warmed up; until then the service is alive but not ready.
 */
export type ServerDeps = Pick<Runtime, 'config' | 'logger' | 'retrieve' | 'classifier'>;

export interface Server {
  app: FastifyInstance;
  /** Stop taking requests (new ones get 503), finish those in flight, close the listener. */
  close(): Promise<void>;
}

export async function createServer(deps: ServerDeps): Promise<Server> {
  const { config, logger } = deps;
  let closing = false;
  const sendError = errorSender(logger);

  const app = Fastify({
    logger: false,
    // A client must send its whole request within this; a slow or stalled upload is cut off.
    requestTimeout: config.requestTimeoutMs,
    genReqId: (req) => callerRequestId(req.headers['x-request-id']) ?? randomUUID(),
    // Longer than the idle timeout of AWS load balancers (60 s), so they never reuse a socket we closed.
    keepAliveTimeout: 65_000,
    // Measured: with Node's default headersTimeout (60 s) above requestTimeout, a stalled upload
    // was cut off only after 60 s. And Node looks for stalled requests every 30 s by default.
    http: {
      headersTimeout: Math.min(60_000, config.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(1_000, config.requestTimeoutMs),
    },
    return503OnClosing: false,
    frameworkErrors: (error, request, reply) => sendError(request, reply, error),
    clientErrorHandler: (error, socket) => answerClientError(error, socket, logger),
  });

  // In this order: each request first gets its logger and id, then a closing server refuses it,
  // then an unmet Expect, then a /v1 request without a valid API key (unknown /v1 routes included),
  // then unknown routes are refused, all before a body is read. The onSend hooks run in the same
  // order (connection: close when closing or when the body is unread, then the security headers),
  // and the routes come after every hook.
  await app.register(requestLogPlugin, { logger });
  await app.register(lifecyclePlugin, { isClosing: () => closing });
  await app.register(unreadBodyPlugin);
  await app.register(expectationPlugin);
  await app.register(authPlugin, { apiKeys: config.apiKeys });
  await app.register(responseHeadersPlugin);
  await app.register(errorHandlerPlugin, { logger });
  await app.register(bodyParserPlugin, { maxBodyBytes: config.maxBodyBytes });
  // Prometheus metrics: GET /metrics, and hooks that count every request (shares the routes' admission).
  const admission = createAdmission(config.maxQueueImages);
  await app.register(metricsPlugin, {
    token: config.metricsToken,
    apiKeysRequired: config.apiKeys.length > 0,
    queuedImages: () => deps.classifier()?.queued?.() ?? 0,
    imagesInFlight: () => admission.inFlight(),
  });
  await app.register(docsPlugin);
  await app.register(apiRoutesPlugin, { config, retrieve: deps.retrieve, classifier: deps.classifier, admission });
  await app.register(demoPagePlugin);

  await app.ready();
  return {
    app,
    async close() {
      closing = true;
      await app.close();
    },
  };
}
