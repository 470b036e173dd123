/**
 * The HTTP adapter (Fastify): routes, OpenAPI and Swagger UI from the shared schemas, the shared
 * body parser and validator, one error handler that speaks the API's error shape, JSON request logs
 * with a request id. No business logic lives here: predictions come from service.ts.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createAdmission } from './admission.ts';
import type { Config } from './config.ts';
import { DEMO_PAGE_CSP, loadDemoPage } from './demo-page.ts';
import {
  type ErrorBody,
  RETRY_AFTER_SECONDS,
  type RequestErrorCode,
  ServiceError,
  routeMissing,
  toErrorResponse,
} from './errors.ts';
import type { ImageRetriever } from './images/retrieve.ts';
import type { Logger } from './logger.ts';
import type { Classifier } from './model/classifier.ts';
import { isJsonContentType, parseJson, readBody } from './request-body.ts';
import { callerRequestId } from './request-id.ts';
import { COMMON_SECURITY_HEADERS, JSON_SECURITY_HEADERS, docsContentSecurityPolicy } from './security-headers.ts';
import { ROUTES, fastifySchema } from './routes.ts';
import { predict } from './service.ts';
import { type StageTimings, round, roundTimings, serverTimingHeader } from './timings.ts';
import { type PredictRequest, createRequestParser, requestInvalid, validatorFor } from './validation.ts';

export interface ServerDeps {
  config: Config;
  logger: Logger;
  retrieve: ImageRetriever;
  /** The classifier once it is loaded and warmed up; until then the service is alive but not ready. */
  classifier: () => Classifier | undefined;
}

export interface Server {
  app: FastifyInstance;
  /** Stop taking requests (new ones get 503), finish those in flight, close the listener. */
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    logger: Logger;
    timings?: StageTimings;
    /** The error answered, for the request's log line. */
    errorBody?: ErrorBody;
  }
}

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

// Fastify's own client errors, translated into the API's codes.
const FASTIFY_ERRORS: Record<string, RequestErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'REQUEST_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'REQUEST_MALFORMED',
  FST_ERR_BAD_URL: 'REQUEST_MALFORMED',
};

export async function createServer(deps: ServerDeps): Promise<Server> {
  const { config, logger } = deps;
  let closing = false;

  const sendError = (request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply => {
    const translated = translate(error);
    const { statusCode, body, headers } = toErrorResponse(translated);
    // Errors raised before onRequest (a malformed URL) have no request logger yet.
    const log = (request.logger as Logger | null) ?? logger;
    if (!(translated instanceof ServiceError)) log.error('Unexpected error', error as Error);
    request.errorBody = body;
    return reply.code(statusCode).headers(headers).send(body);
  };

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

  app.decorateRequest('logger', null as unknown as Logger);
  app.addHook('onRequest', async (request, reply) => {
    request.logger = logger.createChild({ persistentKeys: { request_id: request.id } });
    reply.header('x-request-id', request.id);
    if (closing) throw new ServiceError('SERVICE_SHUTTING_DOWN', undefined, { retryAfterSeconds: RETRY_AFTER_SECONDS });
    // Unknown route or method: answered here, before Fastify looks at (or waits for) a body.
    if (request.is404) throw missingRoute(request.url);
  });
  // While draining, close each keep-alive connection after its response, or idle sockets would keep
  // the server open until their timeout.
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
    const isJson = String(reply.getHeader('content-type') ?? '').startsWith('application/json');
    for (const [name, value] of Object.entries(isJson ? JSON_SECURITY_HEADERS : COMMON_SECURITY_HEADERS)) {
      if (!reply.hasHeader(name)) reply.header(name, value);
    }
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

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', async (request: FastifyRequest, payload: AsyncIterable<Buffer>) => {
    const contentType = request.headers['content-type'];
    // Refuse a wrong content type before reading a byte of the body.
    if (!isJsonContentType(contentType)) throw new ServiceError('REQUEST_UNSUPPORTED_MEDIA_TYPE');
    return parseJson(await readBody(payload, request.headers['content-length'], config.maxBodyBytes));
  });
  app.setValidatorCompiler(({ schema }) => validatorFor(schema));
  app.setErrorHandler((error: FastifyError, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) => sendError(request, reply, missingRoute(request.url)));
  const missingRoute = (requestUrl: string): ServiceError => {
    const url = requestUrl.split('?')[0] ?? '/';
    return routeMissing(HTTP_METHODS.filter((method) => app.hasRoute({ method, url })));
  };

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
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { validatorUrl: null },
    staticCSP: true,
    transformStaticCSP: docsContentSecurityPolicy,
  });

  const requireClassifier = (): Classifier => {
    const classifier = deps.classifier();
    if (!classifier) throw new ServiceError('SERVICE_NOT_READY', undefined, { retryAfterSeconds: RETRY_AFTER_SECONDS });
    return classifier;
  };
  const requestParser = createRequestParser(config);
  const admission = createAdmission(config.maxQueueImages);

  app.route({
    method: ROUTES.health.method,
    url: ROUTES.health.path,
    schema: fastifySchema(ROUTES.health),
    handler: async () => ({ message: 'OK' }),
  });

  app.route({
    method: ROUTES.readiness.method,
    url: ROUTES.readiness.path,
    schema: fastifySchema(ROUTES.readiness),
    handler: async () => {
      requireClassifier();
      return { status: 'ready' };
    },
  });

  app.route({
    method: ROUTES.models.method,
    url: ROUTES.models.path,
    schema: fastifySchema(ROUTES.models),
    handler: async () => requireClassifier().info,
  });

  app.route({
    method: ROUTES.predict.method,
    url: ROUTES.predict.path,
    // Not ready, or full: refuse before reading (and parsing) a body of up to MAX_BODY_BYTES.
    onRequest: async () => {
      requireClassifier();
      admission.checkOpen();
    },
    schema: { ...fastifySchema(ROUTES.predict), body: requestParser.schema },
    handler: async (request, reply) => {
      const classifier = requireClassifier();
      // Stop downloading for a client that has gone away. (The request's own 'close' fires as soon as
      // its body is read, so the response's is the one that tells.)
      const aborted = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) aborted.abort();
      });
      // Fastify has validated the body with the request parser's own compiled schema.
      const predictRequest = request.body as PredictRequest;
      const release = admission.admit(predictRequest.images.length);
      try {
        const { body, timings } = await predict(
          predictRequest,
          { classifier, retrieve: deps.retrieve },
          aborted.signal,
        );
        request.timings = timings;
        reply.header('server-timing', serverTimingHeader(timings));
        return body;
      } finally {
        release();
      }
    },
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  for (const [path, file] of await loadDemoPage()) {
    app.get(path, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .header('content-type', file.contentType)
        .header('content-security-policy', DEMO_PAGE_CSP)
        .header('cache-control', 'no-cache')
        .send(file.body),
    );
  }

  await app.ready();
  return {
    app,
    async close() {
      closing = true;
      await app.close();
    },
  };
}

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

const CLIENT_ERRORS: Record<string, RequestErrorCode> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HPE_HEADER_OVERFLOW: 'REQUEST_HEADERS_TOO_LARGE',
};

/**
 * Errors Node's HTTP parser raises on a connection, with no request for Fastify to answer: a
 * stalled upload, oversized headers, bytes that are not HTTP. They get the API's error shape too,
 * and the connection is closed, as Node itself does.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, logger: Logger): void {
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
