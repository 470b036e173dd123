import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { isPublicAddress } from '../../lib/images/address-policy.ts';
import { loadConfig } from '../../lib/config.ts';
import { type Classifier, loadClassifier, serverOptions } from '../../lib/model/classifier.ts';
import { type RunningApp, get, post, sharedClassifier, silentLogger, startApp } from '../helpers/app.ts';
import { FIXTURES_DIR, MODEL_DIR, expected, fixtureNames, readFixture } from '../helpers/fixtures.ts';
import { type TestServer, startHttpServer } from '../helpers/http-server.ts';

const SEED_DOWNLOAD_MESSAGE = 'One or more images could not be downloaded.';

/** Asserts a prediction against expected.json: acceptable top-1, probability within 0.02. */
function assertMatchesReference(name: string, result: { category: string; name: string; score: number }) {
  const reference = expected[name]!;
  assert.ok(
    reference.acceptable_top1_wnids.includes(result.category),
    `${name}: got ${result.category} ${result.name}`,
  );
  assert.ok(
    Math.abs(result.score - reference.top1.prob) <= 0.02,
    `${name}: score ${result.score} vs ${reference.top1.prob}`,
  );
}

describe('HTTP server', () => {
  let fixtureServer: TestServer;
  let app: RunningApp;
  let base64: Record<string, string>;

  before(async () => {
    fixtureServer = await startHttpServer(async (req, res) => {
      const name = decodeURIComponent((req.url ?? '').slice('/images/'.length));
      if (req.url?.startsWith('/images/') && fixtureNames.includes(name))
        res.end(await readFile(path.join(FIXTURES_DIR, name)));
      else if (req.url === '/never-answers') return;
      else if (req.url === '/truncated.jpg') res.end((await readFixture('owl.jpg')).subarray(0, 20_000));
      else if (req.url === '/text') res.end('<html>not an image</html>');
      else res.writeHead(404).end();
    });
    base64 = Object.fromEntries(
      await Promise.all(fixtureNames.map(async (name) => [name, (await readFixture(name)).toString('base64')])),
    );
    app = await startApp({ env: { ALLOW_PRIVATE_URLS: 'true', TIMEOUT: '1' } });
  });
  after(async () => {
    await app.close();
    await fixtureServer.close();
  });

  const predict = (body: unknown, contentType?: string) => post(`${app.baseUrl}/v1/predict`, body, contentType);

  describe('predictions', () => {
    for (const name of fixtureNames) {
      test(`classifies ${name} sent as base64`, async () => {
        const { status, body } = await predict({ images: [{ data: base64[name] }] });
        assert.equal(status, 200);
        assert.equal(body.images.length, 1);
        assert.deepEqual(Object.keys(body.images[0]).sort(), ['category', 'name', 'score']);
        assertMatchesReference(name, body.images[0]);
      });
    }

    test('classifies every fixture by URL in one request, in order, agreeing with single requests', async () => {
      const { status, body } = await predict({
        images: fixtureNames.map((name) => ({ url: fixtureServer.url(`/images/${name}`) })),
      });
      assert.equal(status, 200);
      assert.equal(body.images.length, fixtureNames.length);
      for (const [i, name] of fixtureNames.entries()) {
        assertMatchesReference(name, body.images[i]);
        const single = await predict({ images: [{ data: base64[name] }] });
        assert.equal(body.images[i].category, single.body.images[0].category, name);
        assert.ok(
          Math.abs(body.images[i].score - single.body.images[0].score) <= 1e-4,
          `${name}: batched ${body.images[i].score} single ${single.body.images[0].score}`,
        );
      }
    });

    test('keeps request order when URLs and data are mixed', async () => {
      const order = ['parrot.jpg', 'cat.bmp', 'hot_dog.jpg', 'bird.bmp', 'parrot.jpg'];
      const images = order.map((name, i) =>
        i % 2 ? { data: base64[name] } : { url: fixtureServer.url(`/images/${name}`) },
      );
      const { body } = await predict({ images });
      assert.deepEqual(
        body.images.map((image: { category: string }) => image.category),
        order.map((name) => expected[name]!.top1.wnid),
      );
    });

    test('returns the top_k classes, most probable first, when top_k > 1', async () => {
      const { status, body } = await predict({ images: [{ data: base64['cat.bmp'] }], top_k: 5 });
      assert.equal(status, 200);
      const [image] = body.images;
      assert.equal(image.predictions.length, 5);
      assert.deepEqual({ score: image.score, category: image.category, name: image.name }, image.predictions[0]);
      const scores = image.predictions.map((p: { score: number }) => p.score);
      assert.deepEqual(
        scores,
        [...scores].sort((a, b) => b - a),
      );
      assert.deepEqual(image.predictions.map((p: { name: string }) => p.name).slice(0, 3), [
        'Egyptian_cat',
        'tabby',
        'tiger_cat',
      ]);
    });

    test('rounds scores to 4 decimals', async () => {
      const { body } = await predict({ images: [{ data: base64['owl.jpg'] }], top_k: 10 });
      for (const { score } of body.images[0].predictions) assert.equal(score, Math.round(score * 1e4) / 1e4);
    });

    test('answers an empty list, and a body without images, with no images', async () => {
      assert.deepEqual(await predict({ images: [] }).then((r) => [r.status, r.body]), [200, { images: [] }]);
      assert.deepEqual(await predict({}).then((r) => [r.status, r.body]), [200, { images: [] }]);
    });

    test('reports stage timings in Server-Timing', async () => {
      const { headers } = await predict({ images: [{ data: base64['cat.bmp'] }] });
      assert.match(
        headers.get('server-timing') ?? '',
        /^download;dur=[\d.]+, decode;dur=[\d.]+, queue;dur=[\d.]+, inference;dur=[\d.]+;desc="batches 1"$/,
      );
    });
  });

  describe('other endpoints', () => {
    test('GET /health answers {"message":"OK"}', async () => {
      assert.deepEqual(await get(`${app.baseUrl}/health`).then((r) => [r.status, r.body]), [200, { message: 'OK' }]);
    });

    test('GET /health/ready answers 200 once the model is loaded', async () => {
      assert.deepEqual(await get(`${app.baseUrl}/health/ready`).then((r) => [r.status, r.body]), [
        200,
        { status: 'ready' },
      ]);
    });

    test('GET /v1/models describes the model and its engine', async () => {
      const { status, body } = await get(`${app.baseUrl}/v1/models`);
      assert.equal(status, 200);
      assert.deepEqual(body, {
        name: 'mobilenet_v2',
        engine: body.engine,
        input: { width: 224, height: 224, channels: 3 },
        classes: 1000,
      });
      assert.match(body.engine, /^(onnx|tfjs-node|tfjs-wasm)$/);
    });

    test('GET /openapi.json documents every operation with the shared schemas', async () => {
      const { status, body } = await get(`${app.baseUrl}/openapi.json`);
      assert.equal(status, 200);
      assert.deepEqual(Object.keys(body.paths).sort(), ['/health', '/health/ready', '/v1/models', '/v1/predict']);
      const predictOperation = body.paths['/v1/predict'].post;
      assert.deepEqual(Object.keys(predictOperation.responses).sort(), [
        '200',
        '400',
        '401',
        '413',
        '415',
        '422',
        '500',
        '503',
      ]);
      assert.equal(predictOperation.requestBody.content['application/json'].schema.properties.images.maxItems, 32);
    });

    test('GET /docs serves the interactive documentation', async () => {
      const response = await fetch(`${app.baseUrl}/docs`);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /swagger-ui/i);
    });

    test('sends security headers for a JSON API on answers and errors alike', async () => {
      for (const response of [
        await fetch(`${app.baseUrl}/health`),
        await fetch(`${app.baseUrl}/nope`),
        await fetch(`${app.baseUrl}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{',
        }),
      ]) {
        assert.equal(response.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
        assert.equal(response.headers.get('cache-control'), 'no-store');
        assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(response.headers.get('x-frame-options'), 'DENY');
        assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
      }
    });

    test('gives the docs page a policy for its own scripts and styles, with nothing from elsewhere', async () => {
      const response = await fetch(`${app.baseUrl}/docs/static/index.html`);
      assert.equal(response.status, 200);
      const policy = response.headers.get('content-security-policy') ?? '';
      assert.match(policy, /script-src 'self'/);
      assert.match(policy, /object-src 'none'/);
      assert.doesNotMatch(policy, /validator\.swagger\.io|upgrade-insecure-requests|https:\/\//);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    });

    test('echoes a caller request id, and makes one up otherwise', async () => {
      const given = await fetch(`${app.baseUrl}/health`, { headers: { 'x-request-id': 'trace-123' } });
      assert.equal(given.headers.get('x-request-id'), 'trace-123');
      const made = await fetch(`${app.baseUrl}/health`);
      assert.match(made.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    });
  });

  describe('errors', () => {
    const expectError = async (request: Promise<{ status: number; body: any }>, status: number, code: string) => {
      const { status: actual, body } = await request;
      assert.equal(actual, status, `${body.code}: ${body.message}`);
      assert.equal(body.code, code);
      assert.equal(typeof body.message, 'string');
      return body;
    };

    test('answers malformed JSON with 400 REQUEST_INVALID_JSON', async () => {
      await expectError(predict('{"images": [', 'application/json'), 400, 'REQUEST_INVALID_JSON');
      await expectError(predict('', 'application/json'), 400, 'REQUEST_INVALID_JSON');
    });

    test('answers a body that is not JSON with 415 REQUEST_UNSUPPORTED_MEDIA_TYPE', async () => {
      await expectError(
        predict('images=1', 'application/x-www-form-urlencoded'),
        415,
        'REQUEST_UNSUPPORTED_MEDIA_TYPE',
      );
      await expectError(predict('{}', 'text/plain'), 415, 'REQUEST_UNSUPPORTED_MEDIA_TYPE');
    });

    test('answers schema violations with 422 REQUEST_INVALID naming the field', async () => {
      const cases: Array<[unknown, string]> = [
        [{ top_k: 0 }, 'top_k'],
        [{ top_k: 11 }, 'top_k'],
        [{ top_k: '3' }, 'top_k'],
        [{ images: 'cat.jpg' }, 'images'],
        [{ images: [{ url: 5 }] }, 'images[0].url'],
        [{ images: [{ url: '' }] }, 'images[0].url'],
        [
          { images: [{ data: base64['owl.jpg'] }, { url: 'https://example.com/x.jpg', caption: 'x' }] },
          'images[1].caption',
        ],
        [{ image: [] }, 'image'],
      ];
      for (const [body, field] of cases) {
        const error = await expectError(predict(body), 422, 'REQUEST_INVALID');
        assert.equal(error.errors[0].field, field);
        assert.match(error.message, new RegExp(field.replace(/[[\].]/g, '\\$&')));
      }
      const notObject = await expectError(predict([1, 2]), 422, 'REQUEST_INVALID');
      assert.equal(notObject.errors[0].field, undefined);
    });

    test('answers an image with both or neither of url and data with 422 IMAGE_SOURCE_INVALID', async () => {
      for (const entry of [{}, { url: 'https://example.com/a.jpg', data: base64['owl.jpg'] }]) {
        const error = await expectError(
          predict({ images: [{ data: base64['owl.jpg'] }, entry] }),
          422,
          'REQUEST_INVALID',
        );
        assert.deepEqual(error.errors, [
          {
            index: 1,
            field: 'images[1]',
            code: 'IMAGE_SOURCE_INVALID',
            message: 'images[1] needs exactly one of url or data.',
          },
        ]);
      }
    });

    test('answers a 404 download with 400 and the seed message, naming the index', async () => {
      const error = await expectError(
        predict({ images: [{ data: base64['owl.jpg'] }, { url: fixtureServer.url('/missing.jpg') }] }),
        400,
        'IMAGES_REJECTED',
      );
      assert.equal(error.message, SEED_DOWNLOAD_MESSAGE);
      assert.deepEqual(error.errors, [
        { index: 1, code: 'DOWNLOAD_FAILED', message: 'The image server answered with status 404.' },
      ]);
    });

    test('answers a download that never finishes with 400 DOWNLOAD_TIMEOUT after TIMEOUT', async () => {
      const error = await expectError(
        predict({ images: [{ url: fixtureServer.url('/never-answers') }] }),
        400,
        'IMAGES_REJECTED',
      );
      assert.equal(error.errors[0].code, 'DOWNLOAD_TIMEOUT');
    });

    test('names every failing image with its own reason', async () => {
      const bomb = await sharp({ create: { width: 10_000, height: 10_000, channels: 3, background: 'white' } })
        .png({ compressionLevel: 9 })
        .toBuffer();
      const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>');
      const owl = await readFixture('owl.jpg');
      const error = await expectError(
        predict({
          images: [
            { data: base64['cat.bmp'] },
            { url: fixtureServer.url('/truncated.jpg') },
            { url: fixtureServer.url('/text') },
            { data: svg.toString('base64') },
            { data: bomb.toString('base64') },
            { data: owl.subarray(0, owl.length / 2).toString('base64') },
            { data: 'not base64!' },
            { url: 'ftp://example.com/a.jpg' },
          ],
        }),
        400,
        'IMAGES_REJECTED',
      );
      assert.deepEqual(
        error.errors.map((e: { index: number; code: string }) => [e.index, e.code]),
        [
          [1, 'IMAGE_CORRUPT'],
          [2, 'IMAGE_UNRECOGNIZED'],
          [3, 'IMAGE_UNSUPPORTED_FORMAT'],
          [4, 'IMAGE_TOO_MANY_PIXELS'],
          [5, 'IMAGE_CORRUPT'],
          [6, 'IMAGE_DATA_INVALID'],
          [7, 'URL_SCHEME_UNSUPPORTED'],
        ],
      );
      assert.equal(error.message, SEED_DOWNLOAD_MESSAGE, 'a download-stage failure (ftp:) is among them');
    });

    test('says "could not be processed" when every image was fetched but some could not be decoded', async () => {
      const error = await expectError(
        predict({ images: [{ data: Buffer.from('plain text').toString('base64') }] }),
        400,
        'IMAGES_REJECTED',
      );
      assert.equal(error.message, 'One or more images could not be processed.');
    });

    test('answers an unknown route with 404 ROUTE_NOT_FOUND', async () => {
      await expectError(get(`${app.baseUrl}/v2/predict`), 404, 'ROUTE_NOT_FOUND');
    });

    test('stays healthy after all of the above', async () => {
      assert.equal((await get(`${app.baseUrl}/health/ready`)).status, 200);
      const { status, body } = await predict({ images: [{ data: base64['parrot.jpg'] }] });
      assert.equal(status, 200);
      assertMatchesReference('parrot.jpg', body.images[0]);
    });
  });

  describe('limits (small values set through the environment)', () => {
    let limited: RunningApp;
    before(async () => {
      limited = await startApp({
        env: {
          ALLOW_PRIVATE_URLS: 'true',
          MAX_BODY_BYTES: '300000',
          MAX_IMAGE_BYTES: '150000',
          MAX_IMAGES_PER_REQUEST: '2',
        },
      });
    });
    after(() => limited.close());
    const predictLimited = (body: unknown) => post(`${limited.baseUrl}/v1/predict`, body);

    test('answers a body over MAX_BODY_BYTES with 413 REQUEST_BODY_TOO_LARGE', async () => {
      const { status, body } = await predictLimited({ images: [{ data: base64['bird.bmp'] }] });
      assert.deepEqual([status, body.code], [413, 'REQUEST_BODY_TOO_LARGE']);
    });

    test('answers more than MAX_IMAGES_PER_REQUEST images with 422 REQUEST_TOO_MANY_IMAGES', async () => {
      const url = fixtureServer.url('/images/owl.jpg');
      const { status, body } = await predictLimited({ images: [{ url }, { url }, { url }] });
      assert.deepEqual([status, body.code], [422, 'REQUEST_TOO_MANY_IMAGES']);
      assert.match(body.message, /At most 2 images/);
    });

    test('answers an image over MAX_IMAGE_BYTES, downloaded or in base64, with IMAGE_TOO_LARGE', async () => {
      const { status, body } = await predictLimited({
        images: [
          { url: fixtureServer.url('/images/parrot.jpg') },
          { data: (await readFixture('parrot.jpg')).subarray(0, 160_000).toString('base64') },
        ],
      });
      assert.equal(status, 400);
      assert.deepEqual(
        body.errors.map((e: { code: string }) => e.code),
        ['IMAGE_TOO_LARGE', 'IMAGE_TOO_LARGE'],
      );
    });
  });

  describe('with the classifier the server process uses (WORKERS=2, batching across requests)', () => {
    let pooledApp: RunningApp;
    let pooled: Classifier;
    before(async () => {
      pooled = await loadClassifier(serverOptions(loadConfig({ MODEL_DIR, WORKERS: '2' })), silentLogger);
      pooledApp = await startApp({ classifier: pooled });
    });
    after(async () => {
      await pooledApp.close();
      await pooled.dispose();
    });

    test('runs images of concurrent HTTP requests in shared batches, each answered correctly', async () => {
      const names = ['owl.jpg', 'parrot.jpg', 'hot_dog.jpg', 'cat_720p.jpg'];
      const responses = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          post(`${pooledApp.baseUrl}/v1/predict`, { images: [{ data: base64[names[i % 4]!] }] }),
        ),
      );
      responses.forEach((response, i) => {
        assert.equal(response.status, 200);
        assertMatchesReference(names[i % 4]!, response.body.images[0]);
      });
      const batchSizes = responses.map((response) =>
        Number(/batches (\d+)/.exec(response.headers.get('server-timing') ?? '')?.[1]),
      );
      assert.ok(
        batchSizes.some((size) => size > 1),
        `batch sizes: ${batchSizes.join(' ')}`,
      );
    });
  });

  describe('overload (MAX_QUEUE_IMAGES=8)', () => {
    let small: RunningApp;
    let slowImages: TestServer;
    before(async () => {
      const owl = await readFixture('owl.jpg');
      slowImages = await startHttpServer((_req, res) => void setTimeout(() => res.end(owl), 500));
      small = await startApp({
        env: { ALLOW_PRIVATE_URLS: 'true', MAX_QUEUE_IMAGES: '8', MAX_IMAGES_PER_REQUEST: '8' },
      });
    });
    after(async () => {
      await small.close();
      await slowImages.close();
    });
    const predictSmall = (images: unknown[]) => post(`${small.baseUrl}/v1/predict`, { images });

    test('refuses what does not fit with 503 and Retry-After while admitted requests run, then recovers', async () => {
      const finished: string[] = [];
      const burst = Array.from({ length: 20 }, (_, i) =>
        predictSmall([{ url: slowImages.url(`/${i}.jpg`) }]).then((response) => {
          finished.push(String(response.status));
          return response;
        }),
      );
      const responses = await Promise.all(burst);
      const statuses = responses.map((r) => r.status).sort();
      assert.deepEqual([statuses.filter((s) => s === 200).length, statuses.filter((s) => s === 503).length], [8, 12]);
      for (const refused of responses.filter((r) => r.status === 503)) {
        assert.deepEqual([refused.body.code, refused.headers.get('retry-after')], ['SERVICE_OVERLOADED', '1']);
      }
      // Every refusal came back before the first admitted request finished.
      assert.deepEqual(finished.slice(0, 12), Array(12).fill('503'));
      for (let i = 0; i < 5; i++) assert.equal((await predictSmall([{ data: base64['cat.bmp'] }])).status, 200);
      assert.equal((await get(`${small.baseUrl}/health/ready`)).status, 200);
    });

    test('refuses one request larger than the free room, and admits it once there is room', async () => {
      const busy = predictSmall(Array.from({ length: 6 }, (_, i) => ({ url: slowImages.url(`/b${i}.jpg`) })));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const tooBig = await predictSmall(Array.from({ length: 3 }, () => ({ data: base64['cat.bmp'] })));
      assert.equal(tooBig.status, 503);
      assert.equal((await busy).status, 200);
      assert.equal((await predictSmall(Array.from({ length: 3 }, () => ({ data: base64['cat.bmp'] })))).status, 200);
    });
  });

  describe('shutting down', () => {
    test('a request reaching a closing server gets 503 SERVICE_SHUTTING_DOWN; the one in flight finishes', async () => {
      const closing = await startApp({ env: { ALLOW_PRIVATE_URLS: 'true' } });
      const slowImages = await startHttpServer(async (_req, res) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        res.end(await readFixture('owl.jpg'));
      });
      const inFlight = post(`${closing.baseUrl}/v1/predict`, { images: [{ url: slowImages.url('/owl.jpg') }] });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closed = closing.close();
      const late = await closing.server.app.inject({ method: 'GET', url: '/health' });
      assert.deepEqual(
        [late.statusCode, late.json().code, late.headers['retry-after']],
        [503, 'SERVICE_SHUTTING_DOWN', '1'],
      );
      assert.equal((await inFlight).status, 200);
      await closed;
      await slowImages.close();
    });
  });

  describe('with the SSRF guard on (the default)', () => {
    let guarded: RunningApp;
    let publicServer: TestServer;
    let hits = 0;
    before(async () => {
      // A "public" server: the test policy counts 127.0.0.2 as public, everything else is the real policy.
      publicServer = await startHttpServer((_req, res) => {
        hits++;
        res.writeHead(302, { location: fixtureServer.url('/images/owl.jpg') }).end();
      }, '127.0.0.2');
      // Names stand in for the private and link-local addresses, so no URL carries a non-loopback address;
      // the guard refuses them by the address they resolve to. Any other name resolves to loopback.
      const addresses: Record<string, string> = {
        'cdn.example': '127.0.0.2',
        'private.example': '10.1.2.3',
        'metadata.example': '169.254.169.254',
      };
      const lookup = ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
        const address = addresses[hostname] ?? '127.0.0.1';
        if (options.all) callback(null, [{ address, family: 4 }]);
        else callback(null, address, 4);
      }) as never;
      guarded = await startApp({
        downloaderDeps: { lookup, isAddressAllowed: (address) => address === '127.0.0.2' || isPublicAddress(address) },
      });
    });
    after(async () => {
      await guarded.close();
      await publicServer.close();
    });

    test(
      'refuses loopback URLs, names resolving to loopback, private and link-local (metadata) addresses, ' +
        'and a redirect to loopback',
      async () => {
        const port = fixtureServer.port;
        const urls = [
          `http://127.0.0.1:${port}/images/owl.jpg`,
          `http://localhost:${port}/images/owl.jpg`,
          `http://[::1]:${port}/images/owl.jpg`,
          'http://private.example/images/owl.jpg', // resolves to 10.1.2.3
          'http://metadata.example/latest/meta-data/', // resolves to 169.254.169.254
          `http://images.internal.example:${port}/images/owl.jpg`,
          `http://cdn.example:${publicServer.port}/owl.jpg`,
        ];
        const { status, body } = await post(`${guarded.baseUrl}/v1/predict`, { images: urls.map((url) => ({ url })) });
        assert.equal(status, 400);
        assert.equal(body.message, SEED_DOWNLOAD_MESSAGE);
        assert.deepEqual(
          body.errors.map((e: { index: number; code: string }) => [e.index, e.code]),
          urls.map((_, i) => [i, 'URL_FORBIDDEN']),
        );
        assert.equal(hits, 1, 'only the public hop was fetched');
        assert.doesNotMatch(JSON.stringify(body), /127\.0\.0\.|::1/);
      },
    );
  });

  describe('before the model is loaded', () => {
    let loading: RunningApp;
    before(async () => {
      loading = await startApp({ classifier: null });
    });
    after(() => loading.close());

    test('is alive but not ready: /health 200, /health/ready and /v1/predict 503 with Retry-After', async () => {
      assert.equal((await get(`${loading.baseUrl}/health`)).status, 200);
      for (const response of [
        await get(`${loading.baseUrl}/health/ready`),
        await post(`${loading.baseUrl}/v1/predict`, { images: [] }),
      ]) {
        assert.deepEqual([response.status, response.body.code], [503, 'SERVICE_NOT_READY']);
        assert.equal(response.headers.get('retry-after'), '1');
      }
    });
  });

  describe('on an unexpected fault (injected: a classifier that throws)', () => {
    let faulty: RunningApp;
    before(async () => {
      const real: Classifier = await sharedClassifier();
      const throwing: Classifier = {
        ...real,
        classify: async () => Promise.reject(new Error('engine exploded at /internal/path')),
      };
      faulty = await startApp({ classifier: throwing });
    });
    after(() => faulty.close());

    test('answers a bare 500 without internals', async () => {
      const { status, body } = await post(`${faulty.baseUrl}/v1/predict`, { images: [{ data: base64['owl.jpg'] }] });
      assert.equal(status, 500);
      assert.deepEqual(body, { message: 'Internal error.', code: 'INTERNAL_ERROR' });
    });
  });
});
