/**
 * Request deadlines on both transports, with a real origin that accepts connections and never
 * answers: past the deadline the request gets 504 REQUEST_DEADLINE_EXCEEDED in the API's shape,
 * long before the downloads' own timeout, the origin's sockets are closed, and the log line (and
 * on Lambda the metrics) are still written. The Lambda side is simulated: event and context are
 * built by the test, the context reporting little remaining time.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../lib/config.ts';
import { DEADLINE_MARGIN_MS } from '../../lib/lambda/http-function.ts';
import { createPredictHandler } from '../../lib/lambda/predict-function.ts';
import { createRuntime } from '../../lib/runtime.ts';
import { type RunningApp, post, sharedClassifier, startApp } from '../helpers/app.ts';
import { MODEL_DIR } from '../helpers/fixtures.ts';
import { type TestServer, startHttpServer } from '../helpers/http-server.ts';
import { captureOutput, httpApiEvent, lambdaContext } from '../helpers/lambda.ts';

process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';

// Downloads would give up only after 30 s; the deadline must come first.
const ENV = { MODEL_DIR, ALLOW_PRIVATE_URLS: 'true', TIMEOUT: '30', LOG_LEVEL: 'INFO' };
const URLS = 12;

describe('request deadlines (origin that never answers)', () => {
  let origin: TestServer;
  const sockets = new Set<Socket>();

  before(async () => {
    origin = await startHttpServer((request) => {
      sockets.add(request.socket);
      request.socket.once('close', () => sockets.delete(request.socket));
    });
  });
  after(() => origin.close());

  const body = () => ({ images: Array.from({ length: URLS }, (_, i) => ({ url: origin.url(`/never/${i}.jpg`) })) });

  async function socketsClosed(): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (sockets.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(sockets.size, 0, 'the downloads were abandoned and their sockets closed');
  }

  describe('HTTP server, REQUEST_DEADLINE_MS=800, room for one request of 12 images', () => {
    let app: RunningApp;
    before(async () => {
      const limits = { MAX_IMAGES_PER_REQUEST: String(URLS), MAX_QUEUE_IMAGES: String(URLS) };
      app = await startApp({ env: { ...ENV, ...limits, REQUEST_DEADLINE_MS: '800' } });
    });
    after(() => app.close());

    test('504 REQUEST_DEADLINE_EXCEEDED at the deadline; the service answers the next request', async () => {
      const started = performance.now();
      const response = await post(`${app.baseUrl}/v1/predict`, body());
      const elapsed = performance.now() - started;
      assert.equal(response.status, 504);
      assert.deepEqual(response.body, {
        message: 'The request did not finish within 800 ms.',
        code: 'REQUEST_DEADLINE_EXCEEDED',
      });
      assert.ok(elapsed >= 750 && elapsed < 5_000, `answered after ${Math.round(elapsed)} ms`);
      await socketsClosed();
      const health = await fetch(`${app.baseUrl}/health/ready`);
      assert.equal(health.status, 200);
    });

    test('the room the images held is given back once their downloads stop, within 200 ms', async () => {
      for (let i = 0; i < 3; i++) {
        assert.equal((await post(`${app.baseUrl}/v1/predict`, body())).status, 504);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });
  });

  describe('Lambda predict function, 2.3 s left in the invocation', () => {
    test(`504 REQUEST_DEADLINE_EXCEEDED ${DEADLINE_MARGIN_MS} ms before Lambda kills it, logged, counted`, async () => {
      const classifier = await sharedClassifier();
      const runtime = createRuntime(loadConfig(ENV), { sharedClassifier: classifier });
      const handler = createPredictHandler({ ...runtime, classifier });
      const context = { ...lambdaContext(), getRemainingTimeInMillis: () => 2_300 };
      const event = httpApiEvent('POST', '/v1/predict', {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body()),
      });
      const started = performance.now();
      const { result, lines } = await captureOutput(() => handler(event, context));
      const elapsed = performance.now() - started;
      try {
        assert.equal(result.statusCode, 504);
        assert.equal(JSON.parse(result.body).code, 'REQUEST_DEADLINE_EXCEEDED');
        assert.ok(elapsed >= 750 && elapsed < 2_300, `answered after ${Math.round(elapsed)} ms`);
        const logLine = lines.find((line) => (line as { message?: string }).message === 'Request completed');
        assert.equal((logLine as { status?: number; code?: string })?.status, 504);
        assert.equal((logLine as { code?: string })?.code, 'REQUEST_DEADLINE_EXCEEDED');
        const errorMetric = lines.find(
          (line) => (line as { ErrorCode?: string }).ErrorCode === 'REQUEST_DEADLINE_EXCEEDED',
        );
        assert.ok(errorMetric, 'an Errors metric with ErrorCode=REQUEST_DEADLINE_EXCEEDED is published');
        await socketsClosed();
      } finally {
        await runtime.close();
      }
    });
  });
});
