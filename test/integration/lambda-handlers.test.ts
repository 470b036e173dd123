import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../lib/config.ts';
import { createHealthHandler } from '../../lib/lambda/health-function.ts';
import type { LambdaHandler } from '../../lib/lambda/http-function.ts';
import { initPredictFunction } from '../../lib/lambda/init.ts';
import { createPredictHandler } from '../../lib/lambda/predict-function.ts';
import type { LambdaTracing } from '../../lib/lambda/tracing.ts';
import { createLogger } from '../../lib/logger.ts';
import type { Classifier } from '../../lib/model/classifier.ts';
import { createRuntime } from '../../lib/runtime.ts';
import { type RunningApp, sharedClassifier, startApp } from '../helpers/app.ts';
import { MODEL_DIR, expected, readFixture, modelSizedJpegBase64 } from '../helpers/fixtures.ts';
import { type TestServer, startHttpServer } from '../helpers/http-server.ts';
import { captureOutput, httpApiEvent, lambdaContext, restApiEvent } from '../helpers/lambda.ts';

// What the Lambda runtime sets for an on-demand container; Powertools reads it to report cold starts.
process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';

const ENV = {
  MODEL_DIR,
  ALLOW_PRIVATE_URLS: 'true',
  TIMEOUT: '1',
  MAX_BODY_BYTES: '300000',
  MAX_IMAGES_PER_REQUEST: '3',
  LOG_LEVEL: 'INFO',
};
const json = { 'content-type': 'application/json' };

describe('Lambda handlers (the AWS side is simulated: API Gateway events and context built by the test)', () => {
  let classifier: Classifier;
  let images: TestServer;
  let server: RunningApp;
  let owl: string;
  let small: string;

  const buildPredictHandler = (withClassifier: Classifier = classifier): LambdaHandler => {
    const { config, logger, metrics, retrieve } = createRuntime(loadConfig(ENV), { sharedClassifier: withClassifier });
    return createPredictHandler({ config, logger, metrics, retrieve, classifier: withClassifier });
  };
  let handler: LambdaHandler;

  before(async () => {
    classifier = await sharedClassifier();
    owl = (await readFixture('owl.jpg')).toString('base64');
    small = await modelSizedJpegBase64('owl.jpg');
    images = await startHttpServer(async (req, res) => {
      if (req.url === '/owl.jpg') res.end(await readFixture('owl.jpg'));
      else if (req.url === '/never') return;
      else res.writeHead(404).end();
    });
    server = await startApp({ env: ENV });
    handler = buildPredictHandler();
  });
  after(async () => {
    await server.close();
    await images.close();
  });

  const invoke = async (event: Parameters<LambdaHandler>[0], withHandler = handler) => {
    const { result, lines } = await captureOutput(() => withHandler(event, lambdaContext()));
    return { status: result.statusCode, headers: result.headers, body: JSON.parse(result.body), lines };
  };

  describe('predictions', () => {
    test('classifies an image from an HTTP API (v2) event', async () => {
      const { status, body, headers } = await invoke(
        httpApiEvent('POST', '/v1/predict', { headers: json, body: JSON.stringify({ images: [{ data: owl }] }) }),
      );
      assert.equal(status, 200);
      assert.equal(body.images[0].category, expected['owl.jpg']!.top1.wnid);
      assert.match(headers['server-timing']!, /inference;dur=/);
      assert.equal(headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
      assert.equal(headers['x-content-type-options'], 'nosniff');
    });

    test('decodes a base64-encoded body (isBase64Encoded)', async () => {
      const { status, body } = await invoke(
        httpApiEvent('POST', '/v1/predict', {
          headers: json,
          body: JSON.stringify({ images: [{ data: owl }], top_k: 2 }),
          base64: true,
        }),
      );
      assert.equal(status, 200);
      assert.equal(body.images[0].predictions.length, 2);
    });

    test('classifies an image from a REST API (v1) event, headers in any case', async () => {
      const { status, body } = await invoke(
        restApiEvent('POST', '/v1/predict', {
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ images: [{ url: images.url('/owl.jpg') }] }),
        }),
      );
      assert.equal(status, 200);
      assert.equal(body.images[0].name, 'ruffed_grouse');
    });

    test('answers GET /health/ready and GET /v1/models in both event versions', async () => {
      for (const event of [httpApiEvent('GET', '/health/ready'), restApiEvent('GET', '/health/ready')]) {
        assert.deepEqual(await invoke(event).then((r) => [r.status, r.body]), [200, { status: 'ready' }]);
      }
      for (const event of [httpApiEvent('GET', '/v1/models'), restApiEvent('GET', '/v1/models')]) {
        const { status, body } = await invoke(event);
        assert.equal(status, 200);
        assert.deepEqual(body, classifier.info);
      }
    });
  });

  describe('gives the same status and body as the HTTP server', () => {
    const cases: Array<[string, string | undefined, string]> = [
      ['malformed JSON', 'application/json', '{"images": ['],
      ['an empty JSON body', 'application/json', ''],
      ['no body and no content type', undefined, ''],
      ['a body without content type', undefined, '{"images": []}'],
      ['a text/plain body', 'text/plain', '{}'],
      ['a form body', 'application/x-www-form-urlencoded', 'images=1'],
      ['a body over MAX_BODY_BYTES', 'application/json', JSON.stringify({ images: [{ data: 'A'.repeat(400_000) }] })],
      ['top_k out of range', 'application/json', '{"top_k": 0}'],
      ['an unknown field', 'application/json', '{"images": [], "caption": "x"}'],
      ['an image with neither url nor data', 'application/json', '{"images": [{}]}'],
      [
        'too many images',
        'application/json',
        JSON.stringify({ images: [1, 2, 3, 4].map(() => ({ url: 'https://example.com/a.jpg' })) }),
      ],
      ['images that cannot be fetched or decoded', 'application/json', ''],
      ['no images', 'application/json', '{}'],
      ['a good image, with a charset in the content type', 'application/json; charset=utf-8', ''],
    ];

    for (const [name, contentType, fixedBody] of cases) {
      test(name, async () => {
        let body = fixedBody;
        if (name.startsWith('images that cannot')) {
          body = JSON.stringify({
            images: [
              { url: images.url('/missing.jpg') },
              { url: images.url('/never') },
              { data: 'not base64!' },
              { data: Buffer.from('text').toString('base64') },
              { url: 'ftp://example.com/a.jpg' },
            ],
          });
        } else if (name.startsWith('a good image')) {
          body = JSON.stringify({ images: [{ data: owl }] });
        }
        const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
        const response = await fetch(`${server.baseUrl}/v1/predict`, {
          method: 'POST',
          headers,
          body: Buffer.from(body),
        });
        const fromServer = {
          status: response.status,
          body: (await response.json()) as { code: string },
          retryAfter: response.headers.get('retry-after') ?? undefined,
        };
        const fromLambda = await invoke(httpApiEvent('POST', '/v1/predict', { headers, body }));
        assert.deepEqual(
          { status: fromLambda.status, body: fromLambda.body, retryAfter: fromLambda.headers['retry-after'] },
          fromServer,
        );
        assert.ok(fromServer.status < 500, `${fromServer.status} ${fromServer.body.code}`);
      });
    }

    test(
      'an unknown route, and a known route with another method ' +
        '(Allow: without HEAD, which API Gateway does not route)',
      async () => {
        for (const [method, path, allow] of [
          ['GET', '/v2/predict', [undefined, undefined]],
          ['GET', '/v1/predict', ['POST', 'POST']],
          ['DELETE', '/v1/models', ['GET, HEAD', 'GET']],
        ] as const) {
          const fromServer = await fetch(`${server.baseUrl}${path}`, { method }).then(async (r) => ({
            status: r.status,
            body: await r.json(),
            allow: r.headers.get('allow') ?? undefined,
          }));
          const fromLambda = await invoke(httpApiEvent(method, path));
          assert.deepEqual(
            { status: fromLambda.status, body: fromLambda.body },
            { status: fromServer.status, body: fromServer.body },
          );
          assert.deepEqual([fromServer.allow, fromLambda.headers.allow], allow);
        }
      },
    );

    test('a result field the response schema does not name is dropped by both (same serializer)', async () => {
      const leaky: Classifier = {
        ...classifier,
        info: { ...classifier.info, internalPath: '/var/task/models/x' } as Classifier['info'],
      };
      const leakyServer = await startApp({ env: ENV, classifier: leaky });
      try {
        const fromServer = await fetch(`${leakyServer.baseUrl}/v1/models`).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as object,
        }));
        const fromLambda = await invoke(httpApiEvent('GET', '/v1/models'), buildPredictHandler(leaky));
        assert.deepEqual({ status: fromLambda.status, body: fromLambda.body }, fromServer);
        assert.equal('internalPath' in fromServer.body, false);
      } finally {
        await leakyServer.close();
      }
    });

    test('an unexpected fault (injected: a classifier that throws)', async () => {
      const throwing: Classifier = {
        ...classifier,
        classify: () => Promise.reject(new Error('engine exploded at /var/task/x.js')),
      };
      const faulty = await startApp({ env: ENV, classifier: throwing });
      try {
        const body = JSON.stringify({ images: [{ data: owl }] });
        const fromServer = await fetch(`${faulty.baseUrl}/v1/predict`, { method: 'POST', headers: json, body }).then(
          async (r) => ({ status: r.status, body: await r.json() }),
        );
        const fromLambda = await invoke(
          httpApiEvent('POST', '/v1/predict', { headers: json, body }),
          buildPredictHandler(throwing),
        );
        assert.deepEqual({ status: fromLambda.status, body: fromLambda.body }, fromServer);
        assert.deepEqual(fromServer, { status: 500, body: { message: 'Internal error.', code: 'INTERNAL_ERROR' } });
        const errorLog = fromLambda.lines.find((line) => (line as { level?: string }).level === 'ERROR') as {
          error: { message: string };
        };
        assert.match(errorLog.error.message, /engine exploded/, 'the detail goes to the log');
      } finally {
        await faulty.close();
      }
    });
  });

  describe('observability', () => {
    const emf = (lines: unknown[]) =>
      lines.filter((line): line is Record<string, any> => typeof line === 'object' && line !== null && '_aws' in line);
    const metricNames = (lines: unknown[]) =>
      emf(lines).flatMap((blob) =>
        blob._aws.CloudWatchMetrics.flatMap((m: { Metrics: Array<{ Name: string }> }) =>
          m.Metrics.map((metric) => metric.Name),
        ),
      );

    test('publishes a cold start once, then per-invocation metrics (EMF on stdout)', async () => {
      const fresh = buildPredictHandler();
      const first = await invoke(
        httpApiEvent('POST', '/v1/predict', {
          headers: json,
          body: JSON.stringify({ images: [{ data: small }, { data: small }] }),
        }),
        fresh,
      );
      const second = await invoke(
        httpApiEvent('POST', '/v1/predict', { headers: json, body: JSON.stringify({ images: [{ data: small }] }) }),
        fresh,
      );
      assert.deepEqual([first.status, second.status], [200, 200]);
      const perInvocation = [
        'BatchSize',
        'DecodeTime',
        'DownloadTime',
        'ImagesClassified',
        'InferenceTime',
        'QueueTime',
        'Requests',
      ];
      assert.deepEqual(metricNames(first.lines).sort(), [...perInvocation, 'ColdStart'].sort());
      assert.deepEqual(metricNames(second.lines).sort(), perInvocation);
      // The cold start is dimensioned by the function's name, from the Lambda context.
      const coldStart = emf(first.lines).find((b) => 'ColdStart' in b);
      assert.equal(coldStart!.function_name, lambdaContext().functionName);
      assert.equal(coldStart!.function_name, 'image-classifier-test-predict');
      assert.deepEqual(coldStart!._aws.CloudWatchMetrics[0].Dimensions, [['service', 'function_name']]);
      const [blob] = emf(first.lines).filter((b) => 'ImagesClassified' in b);
      assert.equal(blob!.ImagesClassified, 2);
      assert.equal(blob!.BatchSize, 2);
      assert.equal(blob!._aws.CloudWatchMetrics[0].Namespace, 'ImageClassifier');
      assert.ok(blob!.InferenceTime > 0);
    });

    test('(tracer simulated) traces the invocation, each download and decode, and the inference', async () => {
      // A recording fake in place of X-Ray: which stages ran, and whether inside the invocation.
      const spans: string[] = [];
      let depth = 0;
      const record =
        (prefix: string) =>
        async <T>(name: string, work: () => Promise<T>): Promise<T> => {
          spans.push(`${depth > 0 ? 'in ' : 'OUTSIDE '}${prefix}${name}`);
          depth++;
          try {
            return await work();
          } finally {
            depth--;
          }
        };
      const tracing: LambdaTracing = {
        invocation: (work) => record('')('invocation', work),
        trace: record('stage '),
      };
      const { config, logger, metrics, retrieve } = createRuntime(loadConfig(ENV), {
        sharedClassifier: classifier,
        trace: tracing.trace,
      });
      const traced = createPredictHandler({ config, logger, metrics, retrieve, classifier, tracing });
      const event = () =>
        httpApiEvent('POST', '/v1/predict', {
          headers: json,
          body: JSON.stringify({ images: [{ url: images.url('/owl.jpg') }, { data: small }] }),
        });
      const fromTraced = await invoke(event(), traced);
      assert.deepEqual(spans.sort(), [
        'OUTSIDE invocation',
        'in stage decode',
        'in stage decode',
        'in stage download', // the URL only: base64 data is not downloaded
        'in stage inference',
      ]);
      // Tracing changes nothing in the answer: the same as the untraced handler's.
      const fromUntraced = await invoke(event());
      assert.equal(fromTraced.status, 200);
      assert.deepEqual(fromTraced.body, fromUntraced.body);
    });

    test('(tracer simulated) a failed download is traced too, and the request still answers 400', async () => {
      const names: string[] = [];
      const trace = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
        names.push(name);
        return work();
      };
      const { config, logger, metrics, retrieve } = createRuntime(loadConfig(ENV), {
        sharedClassifier: classifier,
        trace,
      });
      const tracing: LambdaTracing = { invocation: (work) => work(), trace };
      const traced = createPredictHandler({ config, logger, metrics, retrieve, classifier, tracing });
      const { status, body } = await invoke(
        httpApiEvent('POST', '/v1/predict', {
          headers: json,
          body: JSON.stringify({ images: [{ url: images.url('/missing.jpg') }] }),
        }),
        traced,
      );
      assert.deepEqual([status, body.code], [400, 'IMAGES_REJECTED']);
      assert.deepEqual(names, ['download'], 'no decode or inference for an image that never arrived');
    });

    test('tracing is off by default, and stays off outside Lambda (no X-Ray) even when asked for', async () => {
      for (const POWERTOOLS_TRACE_ENABLED of [undefined, 'true']) {
        const deps = await initPredictFunction({ ...ENV, LOG_LEVEL: 'SILENT', POWERTOOLS_TRACE_ENABLED });
        assert.equal(deps.tracing, undefined, `POWERTOOLS_TRACE_ENABLED=${POWERTOOLS_TRACE_ENABLED}`);
        const { status } = await invoke(httpApiEvent('GET', '/health/ready'), createPredictHandler(deps));
        assert.equal(status, 200);
        await deps.classifier.dispose();
      }
    });

    test('publishes errors by code, also when the request fails', async () => {
      const { status, lines } = await invoke(
        httpApiEvent('POST', '/v1/predict', { headers: json, body: '{"top_k": 99}' }),
      );
      assert.equal(status, 422);
      const errorBlob = emf(lines).find((blob) => 'Errors' in blob);
      assert.deepEqual([errorBlob?.ErrorCode, errorBlob?.Errors], ['REQUEST_INVALID', 1]);
      assert.deepEqual(errorBlob?._aws.CloudWatchMetrics[0].Dimensions, [['service', 'ErrorCode']]);
      assert.ok(metricNames(lines).includes('Requests'));
    });

    test("uses the caller's x-request-id (when well-formed) as correlation id and echoes it", async () => {
      for (const [given, used] of [
        ['trace-42.a:b', 'trace-42.a:b'],
        ['has spaces', undefined],
        ['x'.repeat(129), undefined],
      ] as const) {
        const event = httpApiEvent('GET', '/health/ready', { headers: { 'x-request-id': given } });
        const { headers, lines } = await invoke(event);
        const expected = used ?? event.requestContext.requestId;
        assert.equal(headers['x-request-id'], expected);
        const line = lines.find((l) => (l as { message?: string }).message === 'Request completed') as Record<
          string,
          unknown
        >;
        assert.equal(line.correlation_id, expected);
      }
    });

    test('logs each request with the Lambda context and the API Gateway request id as correlation id', async () => {
      const event = httpApiEvent('GET', '/health/ready');
      const { lines } = await invoke(event);
      const line = lines.find((l) => (l as { message?: string }).message === 'Request completed') as Record<
        string,
        unknown
      >;
      assert.equal(line.correlation_id, event.requestContext.requestId);
      assert.equal(line.function_name, 'image-classifier-test-predict');
      assert.equal(line.status, 200);
    });
  });

  describe('health function', () => {
    const health = createHealthHandler(createLogger({ serviceName: 'test', logLevel: 'SILENT' }));

    test('answers GET /health with {"message":"OK"} in both event versions', async () => {
      for (const event of [httpApiEvent('GET', '/health'), restApiEvent('GET', '/health')]) {
        const result = await health(event, lambdaContext('health'));
        assert.deepEqual([result.statusCode, JSON.parse(result.body)], [200, { message: 'OK' }]);
      }
    });

    test('answers other methods with 405 and Allow: GET, other routes with 404, and echoes x-request-id', async () => {
      const post = await health(
        httpApiEvent('POST', '/health', { headers: { 'x-request-id': 'probe-1' } }),
        lambdaContext('health'),
      );
      assert.deepEqual(
        [post.statusCode, JSON.parse(post.body).code, post.headers.allow, post.headers['x-request-id']],
        [405, 'METHOD_NOT_ALLOWED', 'GET', 'probe-1'],
      );
      const other = await health(httpApiEvent('GET', '/status'), lambdaContext('health'));
      assert.deepEqual([other.statusCode, JSON.parse(other.body).code], [404, 'ROUTE_NOT_FOUND']);
    });
  });

  describe('events that are not API Gateway requests (direct invocations)', () => {
    const health = createHealthHandler(createLogger({ serviceName: 'test', logLevel: 'SILENT' }));
    const { requestContext: _, ...noContext } = httpApiEvent('GET', '/health');
    const { http: __, ...contextWithoutHttp } = httpApiEvent('GET', '/health').requestContext;
    const events: Record<string, unknown> = {
      '{}': {},
      '""': '',
      null: null,
      '[]': [],
      'a number': 7,
      'v2 without requestContext': noContext,
      'v2 without requestContext.http': { ...httpApiEvent('GET', '/health'), requestContext: contextWithoutHttp },
      'v1 without httpMethod': { ...restApiEvent('GET', '/health'), httpMethod: undefined },
      'a body that is not a string': { ...httpApiEvent('POST', '/v1/predict'), body: { images: [] } },
    };
    for (const [name, event] of Object.entries(events)) {
      test(`${name}: a JSON 400 EVENT_UNSUPPORTED from both functions, never a runtime error`, async () => {
        for (const fn of [handler, health]) {
          const { status, body, headers } = await invoke(event as Parameters<LambdaHandler>[0], fn);
          assert.deepEqual(
            [status, body.code, headers['content-type']],
            [400, 'EVENT_UNSUPPORTED', 'application/json; charset=utf-8'],
          );
        }
      });
    }
  });
});
