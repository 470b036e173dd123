/**
 * GET /metrics on the real server (real model, real downloads from a loopback server): the text
 * passes a Prometheus text-format parser, and the counters and histograms reflect exactly the
 * requests sent. Then who may scrape: a METRICS_TOKEN is always required once set, and with API keys
 * and no token of its own, /metrics is not served. Several servers run at once, each with its own
 * registry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import parsePrometheusTextFormat, { type MetricFamily, type Sample } from 'parse-prometheus-text-format';
import { Registry } from 'prom-client';
import { METRICS_PREFIX, UNMATCHED_ROUTE, bearerToken } from '../../lib/http/metrics.ts';
import type { Classifier } from '../../lib/model/classifier.ts';
import { type RunningApp, post, sharedClassifier, startApp } from '../helpers/app.ts';
import { readFixture } from '../helpers/fixtures.ts';
import { type TestServer, startHttpServer } from '../helpers/http-server.ts';

const TOKEN = 'metrics-token-0123456789abcdef';
const API_KEY = 'api-key-0123456789abcdef';

interface Scrape {
  status: number;
  headers: Headers;
  text: string;
  families: MetricFamily[];
}

async function scrape(app: RunningApp, authorization?: string): Promise<Scrape> {
  const response = await fetch(`${app.baseUrl}/metrics`, { headers: authorization ? { authorization } : {} });
  const text = await response.text();
  // The parser throws on any line that is not valid text format.
  const families = response.status === 200 ? parsePrometheusTextFormat(text) : [];
  return { status: response.status, headers: response.headers, text, families };
}

function family(families: MetricFamily[], name: string): MetricFamily {
  const found = families.find((candidate) => candidate.name === name);
  assert.ok(found, `no metric ${name}`);
  return found;
}

/** The series of a metric (our prefix added), keyed by their label values joined with spaces. */
function byLabels(families: MetricFamily[], name: string, labels: string[]): Map<string, Sample> {
  const samples = family(families, METRICS_PREFIX + name).metrics;
  return new Map(samples.map((sample) => [labels.map((label) => sample.labels?.[label]).join(' '), sample]));
}

/** The value of a metric without labels (our prefix added). */
function gauge(families: MetricFamily[], name: string): number {
  const [sample] = family(families, METRICS_PREFIX + name).metrics;
  return Number(sample?.value);
}

/** Count and sum of a histogram without labels (our prefix added). */
function histogram(families: MetricFamily[], name: string): { count: number; sum: number } {
  const [sample] = family(families, METRICS_PREFIX + name).metrics;
  assert.equal(family(families, METRICS_PREFIX + name).type, 'HISTOGRAM');
  assert.equal(sample?.buckets?.['+Inf'], sample?.count, `${name}: the +Inf bucket counts every observation`);
  return { count: Number(sample?.count), sum: Number(sample?.sum) };
}

/**
 * The series of a labelled histogram (our prefix added), keyed by their label values joined with
 * spaces. The parser merges the series of a labelled histogram into one sample, labels lost
 * (yunyu/parse-prometheus-text-format#13), so its lines are read as untyped samples: without their
 * TYPE line, each of _bucket, _sum and _count is a family of its own.
 */
function labelledHistogram(
  text: string,
  name: string,
  labels: string[],
): Map<string, { count: number; sum: number; infBucket: number }> {
  const full = METRICS_PREFIX + name;
  const untyped = parsePrometheusTextFormat(
    text
      .split('\n')
      .filter((line) => line !== `# TYPE ${full} histogram`)
      .join('\n'),
  );
  const samples = (suffix: string) =>
    untyped.filter((candidate) => candidate.name === full + suffix).flatMap((candidate) => candidate.metrics);
  const key = (sample: Sample) => labels.map((label) => sample.labels?.[label]).join(' ');
  const valueBy = (suffix: string, keep: (sample: Sample) => boolean = () => true) =>
    new Map(
      samples(suffix)
        .filter(keep)
        .map((sample) => [key(sample), Number(sample.value)]),
    );
  const sums = valueBy('_sum');
  const infBuckets = valueBy('_bucket', (sample) => sample.labels?.le === '+Inf');
  return new Map(
    [...valueBy('_count')].map(([series, count]) => [
      series,
      { count, sum: sums.get(series) ?? Number.NaN, infBucket: infBuckets.get(series) ?? Number.NaN },
    ]),
  );
}

interface ServerTiming {
  downloadMs: number;
  decodeMs: number;
  queueMs: number;
  inferenceMs: number;
  batchSizes: number[];
}

/** The stage timings a prediction answered in its Server-Timing header. */
function serverTiming(headers: Headers): ServerTiming {
  const header = headers.get('server-timing') ?? '';
  const duration = (stage: string) => Number(new RegExp(`${stage};dur=([\\d.]+)`).exec(header)?.[1]);
  const batches = /desc="batches ([\d ]*)"/.exec(header)?.[1] ?? '';
  return {
    downloadMs: duration('download'),
    decodeMs: duration('decode'),
    queueMs: duration('queue'),
    inferenceMs: duration('inference'),
    batchSizes: batches.split(' ').filter(Boolean).map(Number),
  };
}

describe('GET /metrics', () => {
  let images: TestServer;
  let owl: Buffer;
  let app: RunningApp;

  before(async () => {
    owl = await readFixture('owl.jpg');
    images = await startHttpServer((req, res) => {
      if (req.url === '/owl.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(owl);
      else res.writeHead(404).end();
    });
    app = await startApp({ env: { ALLOW_PRIVATE_URLS: 'true' } });
  });
  after(async () => {
    await app.close();
    await images.close();
  });

  describe('after a few requests', () => {
    const timings: ServerTiming[] = [];
    let first: Scrape;

    before(async () => {
      const [hotDog, parrot] = await Promise.all(['hot_dog.jpg', 'parrot.jpg'].map(readFixture));
      const predictions = [
        { images: [{ url: images.url('/owl.jpg') }] },
        { images: [{ data: hotDog!.toString('base64') }, { data: parrot!.toString('base64') }], top_k: 3 },
      ];
      for (const body of predictions) {
        const { status, headers } = await post(`${app.baseUrl}/v1/predict`, body);
        assert.equal(status, 200);
        timings.push(serverTiming(headers));
      }
      const rejected = await post(`${app.baseUrl}/v1/predict`, { images: [{ url: images.url('/missing.jpg') }] });
      assert.equal(rejected.status, 400);
      assert.equal((await fetch(`${app.baseUrl}/health`)).status, 200);
      assert.equal((await fetch(`${app.baseUrl}/no/such/route?x=1`)).status, 404);
      assert.equal((await fetch(`${app.baseUrl}/v1/nothing-here`)).status, 404);
      first = await scrape(app);
    });

    test('answers the Prometheus text format, which the parser reads without error', () => {
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('content-type'), Registry.PROMETHEUS_CONTENT_TYPE);
      assert.match(first.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      assert.ok(first.families.length > 10);
      for (const metric of first.families) assert.ok(metric.help, `${metric.name} has a HELP line`);
    });

    test('counts requests by method, route pattern (unknown routes as one value) and status', () => {
      const requests = byLabels(first.families, 'http_requests_total', ['method', 'route', 'status']);
      const counts = Object.fromEntries([...requests].map(([labels, sample]) => [labels, Number(sample.value)]));
      assert.deepEqual(counts, {
        'POST /v1/predict 200': 2,
        'POST /v1/predict 400': 1,
        'GET /health 200': 1,
        [`GET ${UNMATCHED_ROUTE} 404`]: 2,
      });
      const latency = labelledHistogram(first.text, 'http_request_duration_seconds', ['method', 'route', 'status']);
      assert.deepEqual(Object.fromEntries([...latency].map(([labels, { count }]) => [labels, count])), counts);
      for (const [labels, { count, sum, infBucket }] of latency) {
        assert.equal(infBucket, count, labels);
        assert.ok(sum > 0 && sum < 60 * count, `${labels}: latency in seconds`);
      }
    });

    test('counts the images classified, and each stage of each successful prediction', () => {
      assert.equal(gauge(first.families, 'images_classified_total'), 3);
      const sumOf = (pick: (timing: ServerTiming) => number) => timings.reduce((sum, timing) => sum + pick(timing), 0);
      // Server-Timing rounds each stage to 0.1 ms.
      const near = (actual: number, expectedMs: number, stage: string) =>
        assert.ok(Math.abs(actual - expectedMs / 1000) < 0.0002, `${stage}: ${actual} s vs ${expectedMs} ms`);
      for (const stage of ['download', 'decode', 'queue', 'inference'] as const) {
        const { count, sum } = histogram(first.families, `${stage}_seconds`);
        assert.equal(count, 2, stage);
        near(
          sum,
          sumOf((timing) => timing[`${stage}Ms`]),
          stage,
        );
      }
      assert.ok(sumOf((timing) => timing.inferenceMs) > 0);
      assert.ok(timings[0]!.downloadMs > 0, 'the URL was downloaded');
      const batches = timings.flatMap((timing) => timing.batchSizes);
      assert.deepEqual(histogram(first.families, 'batch_size'), {
        count: batches.length,
        sum: batches.reduce((a, b) => a + b, 0),
      });
    });

    test('reports nothing waiting or in flight but the scrape itself', () => {
      assert.equal(gauge(first.families, 'queue_depth'), 0);
      assert.equal(gauge(first.families, 'images_in_flight'), 0);
      assert.equal(gauge(first.families, 'http_requests_in_flight'), 1);
    });

    test("exports the process's metrics under their standard names", () => {
      for (const name of ['process_cpu_seconds_total', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes'])
        family(first.families, name);
      assert.equal(family(first.families, 'nodejs_eventloop_lag_seconds').type, 'GAUGE');
    });

    test('counts itself on the next scrape, and is not in the OpenAPI document', async () => {
      const next = await scrape(app);
      const requests = byLabels(next.families, 'http_requests_total', ['method', 'route', 'status']);
      assert.equal(requests.get('GET /metrics 200')?.value, '1');
      assert.equal(requests.get('POST /v1/predict 200')?.value, '2');
      const openapi = (await (await fetch(`${app.baseUrl}/openapi.json`)).json()) as { paths: object };
      assert.ok(!Object.keys(openapi.paths).includes('/metrics'));
      assert.ok(Object.keys(openapi.paths).includes('/v1/predict'));
    });
  });

  test('counts the images and requests in flight while a prediction downloads', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let arrived!: () => void;
    const downloading = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const slow = await startHttpServer(async (_req, res) => {
      arrived();
      await held;
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(owl);
    });
    const url = slow.url('/owl.jpg');
    const waiting: Classifier = { ...(await sharedClassifier()), queued: () => 5 };
    const gauges = await startApp({ env: { ALLOW_PRIVATE_URLS: 'true' }, classifier: waiting });
    try {
      const prediction = post(`${gauges.baseUrl}/v1/predict`, { images: [{ url }, { url }] });
      await downloading;
      const during = await scrape(gauges);
      assert.equal(gauge(during.families, 'images_in_flight'), 2);
      assert.equal(gauge(during.families, 'http_requests_in_flight'), 2);
      assert.equal(gauge(during.families, 'queue_depth'), 5, "the classifier's queue");
      release();
      assert.equal((await prediction).status, 200);
      const afterwards = await scrape(gauges);
      assert.equal(gauge(afterwards.families, 'images_in_flight'), 0);
      assert.equal(gauge(afterwards.families, 'http_requests_in_flight'), 1);
      assert.equal(gauge(afterwards.families, 'images_classified_total'), 2);
    } finally {
      release();
      await gauges.close();
      await slow.close();
    }
  });
});

describe('who may scrape /metrics', () => {
  const apps: RunningApp[] = [];
  const start = async (env: Record<string, string>) => {
    const started = await startApp({ env });
    apps.push(started);
    return started;
  };
  after(() => Promise.all(apps.map((started) => started.close())));

  test('with METRICS_TOKEN: only a scrape with the token, as a bearer token', async () => {
    const app = await start({ METRICS_TOKEN: TOKEN });
    const missing = await scrape(app);
    assert.equal(missing.status, 401);
    assert.equal(JSON.parse(missing.text).code, 'AUTH_REQUIRED');
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="metrics"');
    assert.ok(!missing.text.includes(METRICS_PREFIX));
    for (const wrong of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer x', `Basic ${TOKEN}`, TOKEN]) {
      const refused = await scrape(app, wrong);
      assert.equal(refused.status, 401, wrong);
      assert.equal(JSON.parse(refused.text).code, wrong.startsWith('Bearer') ? 'AUTH_INVALID' : 'AUTH_REQUIRED');
      assert.ok(!refused.text.includes(METRICS_PREFIX));
    }
    const allowed = await scrape(app, `bearer  ${TOKEN}`);
    assert.equal(allowed.status, 200);
    const requests = byLabels(allowed.families, 'http_requests_total', ['route', 'status']);
    assert.equal(requests.get('/metrics 401')?.value, '6', 'refused scrapes are counted');
    // The rest of the server is as open as before.
    assert.equal((await fetch(`${app.baseUrl}/health`)).status, 200);
    assert.equal((await fetch(`${app.baseUrl}/v1/models`)).status, 200);
  });

  test('with API keys and no METRICS_TOKEN: not served at all, not even for an API key (404)', async () => {
    const app = await start({ API_KEYS: API_KEY });
    for (const authorization of [undefined, `Bearer ${API_KEY}`]) {
      const refused = await scrape(app, authorization);
      assert.equal(refused.status, 404);
      assert.equal(JSON.parse(refused.text).code, 'ROUTE_NOT_FOUND');
    }
    // The API keys are in force.
    const models = await fetch(`${app.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${API_KEY}` } });
    assert.equal(models.status, 200);
  });

  test('with API keys and METRICS_TOKEN: the token, never an API key', async () => {
    const app = await start({ API_KEYS: API_KEY, METRICS_TOKEN: TOKEN });
    assert.equal((await scrape(app, `Bearer ${API_KEY}`)).status, 401);
    assert.equal((await scrape(app)).status, 401);
    const allowed = await scrape(app, `Bearer ${TOKEN}`);
    assert.equal(allowed.status, 200);
    assert.ok(allowed.families.some((metric) => metric.name === `${METRICS_PREFIX}http_requests_total`));
  });

  test('without API keys or METRICS_TOKEN: open', async () => {
    const app = await start({});
    assert.equal((await scrape(app)).status, 200);
  });

  test('reads the token of an Authorization header', () => {
    assert.equal(bearerToken(`Bearer ${TOKEN}`), TOKEN);
    assert.equal(bearerToken(`BEARER \t${TOKEN} `), TOKEN);
    for (const header of [undefined, '', 'Bearer', 'Bearer ', `Basic ${TOKEN}`, `Bearer ${TOKEN} extra`, TOKEN])
      assert.equal(bearerToken(header), undefined, header);
  });
});
