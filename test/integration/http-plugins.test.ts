/**
 * The HTTP server's plugins (lib/http/), each registered on a bare Fastify instance with the least
 * it needs, and asked through app.inject(): no socket, no model. Routes that need a classifier get
 * a fake one (and a fake image retriever), and the test names say so.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Duplex } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { loadConfig } from '../../lib/config.ts';
import { ImageError, ServiceError } from '../../lib/errors.ts';
import { apiRoutesPlugin } from '../../lib/http/api-routes.ts';
import { bodyParserPlugin } from '../../lib/http/body-parser.ts';
import { answerClientError } from '../../lib/http/client-errors.ts';
import { DEMO_PAGE_CSP, demoPagePlugin } from '../../lib/http/demo-page.ts';
import { docsPlugin } from '../../lib/http/docs.ts';
import { errorHandlerPlugin } from '../../lib/http/error-handler.ts';
import { lifecyclePlugin } from '../../lib/http/lifecycle.ts';
import { requestLogPlugin } from '../../lib/http/request-log.ts';
import { responseHeadersPlugin } from '../../lib/http/response-headers.ts';
import { createServer } from '../../lib/http/server.ts';
import type { ImageRetriever } from '../../lib/images/retrieve.ts';
import { PUBLIC_DIR } from '../../lib/layout.ts';
import type { Classifier } from '../../lib/model/classifier.ts';
import { COMMON_SECURITY_HEADERS, JSON_SECURITY_HEADERS } from '../../lib/security-headers.ts';
import { recordingLogger } from '../helpers/recording-logger.ts';

const silent = recordingLogger().logger;

/** A bare Fastify instance, set up by `setUp`, ready, and closed after the test. */
async function bareApp(
  t: TestContext,
  setUp: (app: FastifyInstance) => unknown,
  options: FastifyServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify(options);
  await setUp(app);
  await app.ready();
  t.after(() => app.close());
  return app;
}

/** A fake classifier: two classes, and every image is 75% the second one. */
const fakeClassifier: Classifier = {
  info: { name: 'fake', engine: 'fake', input: { width: 2, height: 2, channels: 3 }, classes: 2 },
  labels: [
    { category: 'n00000001', name: 'first' },
    { category: 'n00000002', name: 'second' },
  ],
  classify: async (images) => ({
    probabilities: images.map(() => new Float32Array([0.25, 0.75])),
    batchSizes: [images.length],
    queueMs: 3,
    inferenceMs: 4,
  }),
  tensors: async () => undefined,
  dispose: async () => {},
};

/** A fake retriever: every image decodes (after `gate`, when given), except URLs containing "missing". */
function fakeRetriever(gate?: Promise<void>): ImageRetriever {
  return async (sources) => {
    await gate;
    return sources.map((source) =>
      source.url?.includes('missing')
        ? { ok: false, error: new ImageError('DOWNLOAD_FAILED', 'Not there.'), downloadMs: 1, decodeMs: 0 }
        : { ok: true, pixels: Buffer.alloc(12), downloadMs: 1, decodeMs: 2 },
    );
  };
}

describe('HTTP plugins, each on a bare Fastify instance', () => {
  describe('error-handler', () => {
    const withThings = (t: TestContext, logger = silent) =>
      bareApp(t, async (app) => {
        await app.register(errorHandlerPlugin, { logger });
        app.get('/overloaded', async () => {
          throw new ServiceError('SERVICE_OVERLOADED', undefined, { retryAfterSeconds: 1 });
        });
        app.get('/bug', async () => {
          throw new Error('secret internals');
        });
        app.post('/things', async () => ({ ok: true }));
        app.get('/things', async () => ({ ok: true }));
      });

    test('answers a thrown ServiceError in the API error shape, with its status and Retry-After', async (t) => {
      const app = await withThings(t);
      const response = await app.inject({ method: 'GET', url: '/overloaded' });
      assert.equal(response.statusCode, 503);
      assert.equal(response.headers['retry-after'], '1');
      assert.match(String(response.headers['content-type']), /^application\/json/);
      assert.deepEqual(response.json(), {
        message: 'The service has more images to classify than it can queue; retry shortly.',
        code: 'SERVICE_OVERLOADED',
      });
    });

    test('answers an unknown route with 404 ROUTE_NOT_FOUND, query string or not', async (t) => {
      const app = await withThings(t);
      for (const url of ['/nope', '/nope?x=1']) {
        const response = await app.inject({ method: 'GET', url });
        assert.equal(response.statusCode, 404);
        assert.deepEqual(response.json(), { message: 'No such route.', code: 'ROUTE_NOT_FOUND' });
        assert.equal(response.headers.allow, undefined);
      }
    });

    test('answers a wrong method with 405 and Allow listing the methods the path takes', async (t) => {
      const app = await withThings(t);
      const response = await app.inject({ method: 'DELETE', url: '/things?x=1' });
      assert.equal(response.statusCode, 405);
      assert.equal(response.headers.allow, 'GET, HEAD, POST');
      assert.equal(response.json().code, 'METHOD_NOT_ALLOWED');
    });

    test('refuses a wrong method before looking at the body (405, not 415)', async (t) => {
      const app = await withThings(t);
      const response = await app.inject({
        method: 'PUT',
        url: '/things',
        headers: { 'content-type': 'application/x-unknown' },
        payload: 'whatever',
      });
      assert.equal(response.statusCode, 405);
    });

    test("translates Fastify's own errors into the API's codes", async (t) => {
      const app = await withThings(t);
      // Fastify's default parsers know no such type: FST_ERR_CTP_INVALID_MEDIA_TYPE.
      const response = await app.inject({
        method: 'POST',
        url: '/things',
        headers: { 'content-type': 'application/x-unknown' },
        payload: 'whatever',
      });
      assert.equal(response.statusCode, 415);
      assert.equal(response.json().code, 'REQUEST_UNSUPPORTED_MEDIA_TYPE');
    });

    test('answers anything else with a bare 500, and logs the error', async (t) => {
      const { logger, lines } = recordingLogger();
      const app = await withThings(t, logger);
      const response = await app.inject({ method: 'GET', url: '/bug' });
      assert.equal(response.statusCode, 500);
      assert.deepEqual(response.json(), { message: 'Internal error.', code: 'INTERNAL_ERROR' });
      assert.doesNotMatch(response.body, /secret/);
      const logged = lines.find((line) => line.message === 'Unexpected error');
      assert.ok(logged);
      assert.equal(logged.level, 'ERROR');
      assert.equal((logged.attributes.error as Error).message, 'secret internals');
    });
  });

  describe('lifecycle (with the error handler)', () => {
    test('once closing, answers every request, known route or not, with 503 SERVICE_SHUTTING_DOWN', async (t) => {
      let closing = false;
      let handled = 0;
      const app = await bareApp(t, async (app) => {
        await app.register(lifecyclePlugin, { isClosing: () => closing });
        await app.register(errorHandlerPlugin, { logger: silent });
        app.get('/thing', async () => ({ handled: ++handled }));
      });

      const before = await app.inject({ method: 'GET', url: '/thing' });
      assert.equal(before.statusCode, 200);
      assert.notEqual(before.headers.connection, 'close');

      closing = true;
      for (const url of ['/thing', '/nope']) {
        const response = await app.inject({ method: 'GET', url });
        assert.equal(response.statusCode, 503, url);
        assert.equal(response.json().code, 'SERVICE_SHUTTING_DOWN');
        assert.equal(response.headers['retry-after'], '1');
        assert.equal(response.headers.connection, 'close', 'keep-alive connections are closed while draining');
      }
      assert.equal(handled, 1, 'no handler runs once closing');
    });
  });

  describe('request-log', () => {
    test('gives each request a logger with its id, echoes the id, and logs one line when done', async (t) => {
      const { logger, lines } = recordingLogger();
      const app = await bareApp(
        t,
        async (app) => {
          await app.register(requestLogPlugin, { logger });
          app.get('/things/:id', async (request) => {
            request.logger.info('Inside the handler');
            return { ok: true };
          });
        },
        { genReqId: (request) => String(request.headers['x-request-id'] ?? 'made-up') },
      );

      const response = await app.inject({ method: 'GET', url: '/things/7?q=1', headers: { 'x-request-id': 'abc-1' } });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['x-request-id'], 'abc-1');
      assert.deepEqual(
        lines.map(({ message, keys, attributes }) => [message, keys.request_id ?? attributes.request_id]),
        [
          ['Inside the handler', 'abc-1'],
          ['Request completed', 'abc-1'],
        ],
      );
      const { durationMs, ...completed } = lines[1]!.attributes;
      assert.deepEqual(completed, { request_id: 'abc-1', method: 'GET', path: '/things/:id', status: 200 });
      assert.equal(typeof durationMs, 'number');
    });

    test('makes a request its own logger only when something logs through it (a refusal logs one line)', async (t) => {
      const { logger, lines } = recordingLogger();
      let children = 0;
      const createChild = logger.createChild.bind(logger);
      logger.createChild = (options) => {
        children++;
        return createChild(options);
      };
      const app = await bareApp(t, async (app) => {
        await app.register(requestLogPlugin, { logger });
        await app.register(errorHandlerPlugin, { logger });
        app.get('/busy', async () => {
          throw new ServiceError('SERVICE_OVERLOADED', undefined, { retryAfterSeconds: 1 });
        });
      });
      assert.equal((await app.inject({ method: 'GET', url: '/busy' })).statusCode, 503);
      assert.equal(children, 0);
      assert.deepEqual(
        lines.map(({ message, attributes }) => [message, attributes.status]),
        [['Request completed', 503]],
      );
    });

    test("adds the error's code to the line of a request answered with an error (error handler too)", async (t) => {
      const { logger, lines } = recordingLogger();
      const app = await bareApp(t, async (app) => {
        await app.register(requestLogPlugin, { logger });
        await app.register(errorHandlerPlugin, { logger });
      });
      await app.inject({ method: 'GET', url: '/nope?secret=1' });
      const completed = lines.find((line) => line.message === 'Request completed');
      assert.equal(completed?.attributes.status, 404);
      assert.equal(completed?.attributes.code, 'ROUTE_NOT_FOUND');
      assert.equal(completed?.attributes.path, '/nope', 'the query string is left out');
    });
  });

  describe('response-headers', () => {
    test("sends the JSON security headers on JSON, the common ones on the rest, and keeps a route's own", async (t) => {
      const app = await bareApp(t, async (app) => {
        await app.register(responseHeadersPlugin);
        app.get('/json', async () => ({ ok: true }));
        app.get('/page', async (_request, reply) =>
          reply.header('content-type', 'text/html').header('x-frame-options', 'SAMEORIGIN').send('<p>hi</p>'),
        );
      });

      const json = await app.inject({ method: 'GET', url: '/json' });
      for (const [name, value] of Object.entries(JSON_SECURITY_HEADERS)) assert.equal(json.headers[name], value, name);

      const page = await app.inject({ method: 'GET', url: '/page' });
      assert.equal(page.headers['x-frame-options'], 'SAMEORIGIN', "a route's own header is kept");
      for (const [name, value] of Object.entries(COMMON_SECURITY_HEADERS))
        if (name !== 'x-frame-options') assert.equal(page.headers[name], value, name);
      assert.equal(page.headers['content-security-policy'], undefined, 'an HTML page brings its own policy');
      assert.equal(page.headers['cache-control'], undefined);
    });
  });

  describe('body-parser (with the error handler)', () => {
    const withEcho = (t: TestContext, parsed: unknown[] = []) =>
      bareApp(t, async (app) => {
        await app.register(errorHandlerPlugin, { logger: silent });
        await app.register(bodyParserPlugin, { maxBodyBytes: 100 });
        app.post(
          '/echo',
          {
            schema: {
              body: {
                type: 'object',
                required: ['n'],
                additionalProperties: false,
                properties: { n: { type: 'integer' } },
              },
            },
          },
          async (request) => {
            parsed.push(request.body);
            return request.body;
          },
        );
      });
    const post = (app: FastifyInstance, payload: string, contentType = 'application/json') =>
      app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': contentType }, payload });

    test('parses JSON bodies, +json types included', async (t) => {
      const app = await withEcho(t);
      assert.deepEqual((await post(app, '{"n":1}')).json(), { n: 1 });
      assert.deepEqual((await post(app, '{"n":2}', 'application/merge-patch+json; charset=utf-8')).json(), { n: 2 });
    });

    test('refuses another content type with 415 before running the handler', async (t) => {
      const parsed: unknown[] = [];
      const app = await withEcho(t, parsed);
      const response = await post(app, 'n=1', 'application/x-www-form-urlencoded');
      assert.equal(response.statusCode, 415);
      assert.equal(response.json().code, 'REQUEST_UNSUPPORTED_MEDIA_TYPE');
      assert.deepEqual(parsed, []);
    });

    test('answers a body over maxBodyBytes with 413, and malformed JSON with 400', async (t) => {
      const app = await withEcho(t);
      const large = await post(app, JSON.stringify({ n: 1, pad: 'x'.repeat(200) }));
      assert.equal(large.statusCode, 413);
      assert.equal(large.json().code, 'REQUEST_BODY_TOO_LARGE');
      const malformed = await post(app, '{"n":');
      assert.equal(malformed.statusCode, 400);
      assert.equal(malformed.json().code, 'REQUEST_INVALID_JSON');
    });

    test('validates with the shared compiler: 422 REQUEST_INVALID naming the field, no type coercion', async (t) => {
      const app = await withEcho(t);
      const response = await post(app, '{"n":"3"}');
      assert.equal(response.statusCode, 422);
      const body = response.json();
      assert.equal(body.code, 'REQUEST_INVALID');
      assert.deepEqual(
        body.errors.map((error: { field: string }) => error.field),
        ['n'],
      );
    });
  });

  describe('docs', () => {
    test('serves /openapi.json, documenting the routes registered after it and not the hidden ones', async (t) => {
      const app = await bareApp(t, async (app) => {
        await app.register(docsPlugin);
        app.get('/things', { schema: { summary: 'Lists things.' } }, async () => []);
        app.get('/secret', { schema: { hide: true } }, async () => []);
      });
      const response = await app.inject({ method: 'GET', url: '/openapi.json' });
      assert.equal(response.statusCode, 200);
      const document = response.json();
      assert.equal(document.openapi, '3.0.3');
      assert.equal(document.info.title, 'Image classification API');
      assert.deepEqual(Object.keys(document.paths), ['/things']);
      assert.equal(document.paths['/things'].get.summary, 'Lists things.');
    });

    test('serves Swagger UI at /docs under a policy narrowed to this server', async (t) => {
      const app = await bareApp(t, (app) => app.register(docsPlugin));
      const response = await app.inject({ method: 'GET', url: '/docs' });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^text\/html/);
      assert.match(response.body, /swagger-ui/i);
      const policy = String(response.headers['content-security-policy']);
      assert.match(policy, /frame-ancestors 'none'/);
      assert.match(policy, /style-src 'self' 'sha256-[\w+/=]+'/);
      assert.doesNotMatch(policy, /validator\.swagger\.io|upgrade-insecure-requests| https:/);
    });
  });

  describe('demo-page', () => {
    test('serves public/ at / and /demo/ with its own policy, uncached between deploys', async (t) => {
      const app = await bareApp(t, (app) => app.register(demoPagePlugin));
      const page = await app.inject({ method: 'GET', url: '/' });
      assert.equal(page.statusCode, 200);
      assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(page.headers['content-security-policy'], DEMO_PAGE_CSP);
      assert.equal(page.headers['cache-control'], 'no-cache');
      assert.equal(page.body, await readFile(new URL('index.html', PUBLIC_DIR), 'utf8'));

      const script = await app.inject({ method: 'GET', url: '/demo/demo.js' });
      assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8');
      assert.equal((await app.inject({ method: 'GET', url: '/demo/other.js' })).statusCode, 404);
    });
  });

  describe('api-routes (with the error handler and body parser)', () => {
    const config = { maxQueueImages: 2, maxImagesPerRequest: 2, requestDeadlineMs: 60_000 };
    const withRoutes = (t: TestContext, classifier: () => Classifier | undefined, retrieve = fakeRetriever()) =>
      bareApp(t, async (app) => {
        await app.register(errorHandlerPlugin, { logger: silent });
        await app.register(bodyParserPlugin, { maxBodyBytes: 10_000 });
        await app.register(apiRoutesPlugin, { config, retrieve, classifier });
      });
    const predict = (app: FastifyInstance, images: unknown[]) =>
      app.inject({ method: 'POST', url: '/v1/predict', payload: { images } });

    test('fake classifier: alive at once, ready (and describing the model) only once it is there', async (t) => {
      let classifier: Classifier | undefined;
      const app = await withRoutes(t, () => classifier);
      assert.deepEqual((await app.inject({ method: 'GET', url: '/health' })).json(), { message: 'OK' });
      for (const url of ['/health/ready', '/v1/models']) {
        const response = await app.inject({ method: 'GET', url });
        assert.equal(response.statusCode, 503, url);
        assert.equal(response.json().code, 'SERVICE_NOT_READY');
        assert.equal(response.headers['retry-after'], '1');
      }
      const notReady = await predict(app, [{ data: 'aGVsbG8=' }]);
      assert.equal(notReady.json().code, 'SERVICE_NOT_READY');

      classifier = fakeClassifier;
      assert.deepEqual((await app.inject({ method: 'GET', url: '/health/ready' })).json(), { status: 'ready' });
      assert.deepEqual((await app.inject({ method: 'GET', url: '/v1/models' })).json(), fakeClassifier.info);
    });

    test('fake classifier: /v1/predict classifies through the service and reports Server-Timing', async (t) => {
      const app = await withRoutes(t, () => fakeClassifier);
      const response = await predict(app, [{ data: 'aGVsbG8=' }, { url: 'http://images.example/cat.jpg' }]);
      assert.equal(response.statusCode, 200);
      const best = { score: 0.75, category: 'n00000002', name: 'second' };
      assert.deepEqual(response.json(), { images: [best, best] });
      assert.equal(
        response.headers['server-timing'],
        'download;dur=2, decode;dur=4, queue;dur=3, inference;dur=4;desc="batches 2"',
      );

      const rejected = await predict(app, [{ url: 'http://images.example/missing.jpg' }]);
      assert.equal(rejected.statusCode, 400);
      assert.equal(rejected.json().errors[0].code, 'DOWNLOAD_FAILED');
      assert.equal((await predict(app, [{}])).statusCode, 422, "the route's request schema validates");
    });

    test('fake classifier: refuses what MAX_QUEUE_IMAGES cannot take with 503, before reading the body', async (t) => {
      let open!: () => void;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const app = await withRoutes(t, () => fakeClassifier, fakeRetriever(gate));
      const admitted = predict(app, [{ data: 'aGVsbG8=' }, { data: 'aGVsbG8=' }]);
      // Wait until the two images hold the queue.
      await new Promise((resolve) => setTimeout(resolve, 50));

      const refused = await app.inject({
        method: 'POST',
        url: '/v1/predict',
        headers: { 'content-type': 'application/json' },
        payload: '{not even JSON',
      });
      assert.equal(refused.statusCode, 503, 'the full queue is checked before the body is parsed');
      assert.equal(refused.json().code, 'SERVICE_OVERLOADED');
      assert.equal(refused.headers['retry-after'], '1');

      open();
      assert.equal((await admitted).statusCode, 200);
      assert.equal((await predict(app, [{ data: 'aGVsbG8=' }])).statusCode, 200, 'the room is given back');
    });
  });

  describe('client-errors', () => {
    function fakeSocket() {
      const written: string[] = [];
      const socket = new Duplex({
        read() {},
        write(chunk, _encoding, callback) {
          written.push(String(chunk));
          callback();
        },
      });
      return { socket, written };
    }

    test('answers a stalled request on the socket in the API shape, with the JSON headers, and closes it', () => {
      const { logger, lines } = recordingLogger();
      const { socket, written } = fakeSocket();
      const error = Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
      answerClientError(error, socket, logger);

      const [head = '', payload] = written.join('').split('\r\n\r\n');
      const [statusLine, ...headerLines] = head.split('\r\n');
      assert.equal(statusLine, 'HTTP/1.1 408 Request Timeout');
      const headers = Object.fromEntries(headerLines.map((line) => line.split(': ') as [string, string]));
      assert.deepEqual(JSON.parse(payload ?? ''), {
        message: 'The request was not received in full in time.',
        code: 'REQUEST_TIMEOUT',
      });
      assert.equal(headers['content-length'], String(Buffer.byteLength(payload ?? '')));
      assert.equal(headers.connection, 'close');
      for (const [name, value] of Object.entries(JSON_SECURITY_HEADERS)) assert.equal(headers[name], value, name);
      assert.ok(socket.destroyed);
      assert.deepEqual(lines[0]?.attributes, {
        status: 408,
        code: 'REQUEST_TIMEOUT',
        cause: 'ERR_HTTP_REQUEST_TIMEOUT',
      });
    });

    test('writes nothing to a connection the client reset', () => {
      const { socket, written } = fakeSocket();
      answerClientError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), socket, silent);
      assert.deepEqual(written, []);
    });
  });

  describe('createServer, the plugins together (fake classifier)', () => {
    const start = () =>
      createServer({
        config: loadConfig({}),
        logger: silent,
        retrieve: fakeRetriever(),
        classifier: () => fakeClassifier,
      });

    test('documents the API routes, and not the demo page or the docs themselves', async (t) => {
      const server = await start();
      t.after(() => server.close());
      const document = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      assert.deepEqual(Object.keys(document.paths), ['/health', '/health/ready', '/v1/models', '/v1/predict']);
    });

    test('runs the hooks in order: a closing server refuses even an unknown route, with id and headers', async () => {
      const server = await start();
      const closed = server.close();
      const response = await server.app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'late-1' } });
      await closed;
      assert.equal(response.statusCode, 503);
      assert.equal(response.json().code, 'SERVICE_SHUTTING_DOWN');
      assert.equal(response.headers['x-request-id'], 'late-1');
      assert.equal(response.headers.connection, 'close');
      assert.equal(response.headers['cache-control'], JSON_SECURITY_HEADERS['cache-control']);
    });
  });
});
