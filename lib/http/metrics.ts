/**
 * Prometheus metrics at GET /metrics (text format), as TF Serving, Triton and BentoML expose them:
 * requests by route and status with their latency, images classified, the stage timings of each
 * prediction (batch sizes, download, decode, queue and inference time), queue depth and work in
 * flight, and the process's own metrics. Each server has its own registry (never prom-client's
 * global one), so several servers in one process do not clash.
 *
 * Access: with METRICS_TOKEN set, a scrape must send `Authorization: Bearer <token>` (else 401);
 * without it, /metrics is open, unless the API requires keys: then it is not served at all (404),
 * since an API key must not open it. Wrapped with fastify-plugin: its hooks must see every route.
 * The route is hidden from the OpenAPI document and is not in the route table (lib/routes.ts), so
 * API Gateway never routes it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ServiceError } from '../errors.ts';

export const METRICS_PATH = '/metrics';
/** The prefix of the service's own metrics (the process metrics keep their standard names). */
export const METRICS_PREFIX = 'image_classifier_';
/** The `route` label of requests that matched no route, whatever their URL. */
export const UNMATCHED_ROUTE = 'unmatched';

export interface MetricsOptions {
  /** METRICS_TOKEN; empty for none. When set, every scrape must present it as a bearer token. */
  token: string;
  /** The API requires keys: without a token of its own, /metrics is then not served (404). */
  apiKeysRequired: boolean;
  /** Images waiting for the model (the classifier's batcher); 0 before it is loaded. */
  queuedImages: () => number;
  /** Images admitted into the server (downloading, decoding, waiting or in inference). */
  imagesInFlight: () => number;
}

/** Seconds, from a few ms to past the request deadline. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STAGE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Up to MAX_BATCH_SIZE's maximum. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

/** The token of an `Authorization: Bearer <token>` header (the scheme in any case), else undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '')?.[1];
}

/**
 * Refuses a scrape without `token` (401, with a Bearer challenge); the comparison takes constant time
 * (of digests, so the length does not leak either).
 */
function checkToken(request: FastifyRequest, token: string): void {
  const presented = bearerToken(request.headers.authorization);
  if (presented === undefined)
    throw new ServiceError('AUTH_REQUIRED', 'The metrics need a token: send Authorization: Bearer <token>.', {
      wwwAuthenticate: 'Bearer realm="metrics"',
    });
  if (!timingSafeEqual(sha256(presented), sha256(token)))
    throw new ServiceError('AUTH_INVALID', 'The metrics token is not valid.', {
      wwwAuthenticate: 'Bearer realm="metrics", error="invalid_token"',
    });
}

function createMetrics(options: MetricsOptions) {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const registers = [register];
  const name = (suffix: string) => `${METRICS_PREFIX}${suffix}`;
  const stage = (suffix: string, what: string) =>
    new Histogram({
      name: name(suffix),
      help: `${what} of each successful prediction request, in seconds.`,
      buckets: STAGE_BUCKETS,
      registers,
    });
  const requestLabels = ['method', 'route', 'status'] as const;
  return {
    register,
    requests: new Counter({
      name: name('http_requests_total'),
      help: `HTTP requests answered, by method, route pattern (${UNMATCHED_ROUTE} for unknown routes) and status.`,
      labelNames: requestLabels,
      registers,
    }),
    requestSeconds: new Histogram({
      name: name('http_request_duration_seconds'),
      help: 'Time from receiving a request to answering it, in seconds, by method, route pattern and status.',
      labelNames: requestLabels,
      buckets: REQUEST_BUCKETS,
      registers,
    }),
    requestsInFlight: new Gauge({
      name: name('http_requests_in_flight'),
      help: 'HTTP requests received and not yet answered (this scrape included).',
      registers,
    }),
    imagesClassified: new Counter({
      name: name('images_classified_total'),
      help: 'Images classified by successful prediction requests.',
      registers,
    }),
    batchSize: new Histogram({
      name: name('batch_size'),
      help: "Size of each model call that ran a prediction's images (a call shared by requests counts for each).",
      buckets: BATCH_BUCKETS,
      registers,
    }),
    downloadSeconds: stage('download_seconds', 'Download time, summed over the images,'),
    decodeSeconds: stage('decode_seconds', 'Decode time, summed over the images,'),
    queueSeconds: stage('queue_seconds', 'Longest wait of the images for the model'),
    inferenceSeconds: stage('inference_seconds', 'Time the model calls took'),
    queueDepth: new Gauge({
      name: name('queue_depth'),
      help: 'Images waiting for the model (for a batch to start).',
      registers,
      collect() {
        this.set(options.queuedImages());
      },
    }),
    imagesInFlight: new Gauge({
      name: name('images_in_flight'),
      help: 'Images in the server: downloading, decoding, waiting for the model or in inference.',
      registers,
      collect() {
        this.set(options.imagesInFlight());
      },
    }),
  };
}

const metrics: FastifyPluginAsync<MetricsOptions> = async (app, options) => {
  const m = createMetrics(options);
  app.addHook('onClose', async () => m.register.clear());

  app.addHook('onRequest', async (_request, reply) => {
    m.requestsInFlight.inc();
    // 'close' comes once per response, even when the client goes away before it is answered.
    reply.raw.once('close', () => m.requestsInFlight.dec());
  });

  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      route: (!request.is404 && request.routeOptions.url) || UNMATCHED_ROUTE,
      status: String(reply.statusCode),
    };
    m.requests.inc(labels);
    m.requestSeconds.observe(labels, reply.elapsedTime / 1000);
    // Stage timings: successful predictions of at least one image (`{"images": []}` runs nothing).
    const { timings } = request;
    if (!timings?.images) return;
    m.imagesClassified.inc(timings.images);
    for (const size of timings.batchSizes) m.batchSize.observe(size);
    m.downloadSeconds.observe(timings.downloadMs / 1000);
    m.decodeSeconds.observe(timings.decodeMs / 1000);
    m.queueSeconds.observe(timings.queueMs / 1000);
    m.inferenceSeconds.observe(timings.inferenceMs / 1000);
  });

  if (options.apiKeysRequired && !options.token) return;
  app.get(METRICS_PATH, { schema: { hide: true } }, async (request, reply) => {
    if (options.token) checkToken(request, options.token);
    const text = await m.register.metrics();
    return reply.header('content-type', m.register.contentType).header('cache-control', 'no-store').send(text);
  });
};

export const metricsPlugin = fp(metrics, { name: 'metrics' });
