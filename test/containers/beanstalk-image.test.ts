/**
 * The Beanstalk image (`docker build --target beanstalk`), built and run for real: the HTTP API
 * from outside the container, Docker's HEALTHCHECK, the user it runs as, what it ships, and a
 * `docker stop` under load.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  DEV_DEPENDENCIES,
  buildImage,
  docker,
  freePort,
  imageSizeMb,
  packagesIn,
  removeContainer,
  startContainer,
  waitForInspect,
} from '../helpers/docker.ts';
import { FIXTURES_DIR, expected, fixtureNames, readFixture } from '../helpers/fixtures.ts';
import { type TestServer, startHttpServer } from '../helpers/http-server.ts';
import { waitUntilReady } from '../helpers/process.ts';

const TAG = 'classifier-beanstalk:test';

describe('the Beanstalk image', () => {
  let origin: TestServer;
  /** Requests to the origin, by path, and the slow route's hold: downloads wait until it is released. */
  const hits: string[] = [];
  let releaseSlow: () => void = () => undefined;
  let slowGate = Promise.resolve();
  let container: string;
  let baseUrl: string;
  /** What the suite measured on the way, reported by its first test (a suite cannot report). */
  const measured: string[] = [];

  before(async () => {
    origin = await startHttpServer(async (request, response) => {
      hits.push(request.url!);
      const name = path.basename(request.url!);
      if (request.url!.startsWith('/slow/')) await slowGate;
      if (!fixtureNames.includes(name)) return void response.writeHead(404).end();
      response
        .writeHead(200, { 'content-type': 'application/octet-stream' })
        .end(await readFile(path.join(FIXTURES_DIR, name)));
    });
    const seconds = await buildImage('beanstalk', TAG);
    measured.push(`docker build --target beanstalk: ${seconds.toFixed(1)} s; image ${await imageSizeMb(TAG)} MB`);
    const port = await freePort();
    const started = performance.now();
    container = await startContainer(TAG, { PORT: String(port), ALLOW_PRIVATE_URLS: 'true' });
    baseUrl = `http://127.0.0.1:${port}`;
    await waitUntilReady(baseUrl, 60_000);
    measured.push(`container start to ready: ${Math.round(performance.now() - started)} ms`);
  });
  after(async () => {
    await removeContainer(container);
    await origin.close();
  });

  const predict = (body: unknown) =>
    fetch(`${baseUrl}/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const top1 = async (response: Response) => {
    assert.equal(response.status, 200, await response.clone().text());
    return ((await response.json()) as { images: Array<{ category: string; name: string }> }).images[0]!;
  };

  test('builds and starts (build time, size and start-up time reported)', (t) => {
    assert.equal(measured.length, 2);
    for (const line of measured) t.diagnostic(line);
  });

  test('classifies every reference photo sent as base64', async () => {
    for (const name of fixtureNames) {
      const top = await top1(await predict({ images: [{ data: (await readFixture(name)).toString('base64') }] }));
      assert.ok(expected[name]!.acceptable_top1_wnids.includes(top.category), `${name}: ${top.category} ${top.name}`);
    }
  });

  test('classifies every reference photo by URL from a local origin (ALLOW_PRIVATE_URLS=true)', async () => {
    for (const name of fixtureNames) {
      const top = await top1(await predict({ images: [{ url: origin.url(`/${name}`) }] }));
      assert.ok(expected[name]!.acceptable_top1_wnids.includes(top.category), `${name}: ${top.category} ${top.name}`);
    }
  });

  test('answers bad requests with the error table’s status and code, as JSON', async () => {
    const owl = (await readFixture('owl.jpg')).toString('base64');
    const cases: Array<[string, Promise<Response>, number, string]> = [
      [
        'invalid JSON',
        fetch(`${baseUrl}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"images":',
        }),
        400,
        'REQUEST_INVALID_JSON',
      ],
      [
        'not JSON',
        fetch(`${baseUrl}/v1/predict`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
        415,
        'REQUEST_UNSUPPORTED_MEDIA_TYPE',
      ],
      ['unknown route', fetch(`${baseUrl}/v2/predict`), 404, 'ROUTE_NOT_FOUND'],
      ['wrong method', fetch(`${baseUrl}/v1/predict`), 405, 'METHOD_NOT_ALLOWED'],
      ['an image that is not an object', predict({ images: ['owl.jpg'] }), 422, 'REQUEST_INVALID'],
      ['unknown field', predict({ images: [{ data: owl }], colour: 'red' }), 422, 'REQUEST_INVALID'],
      [
        'too many images',
        predict({ images: Array.from({ length: 33 }, () => ({ data: 'AA==' })) }),
        422,
        'REQUEST_TOO_MANY_IMAGES',
      ],
    ];
    for (const [label, pending, status, code] of cases) {
      const response = await pending;
      assert.equal(response.status, status, label);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/, label);
      assert.equal(((await response.json()) as { code: string }).code, code, label);
    }
    const rejected = await predict({
      images: [
        { data: owl },
        { data: 'not base64!' },
        { data: Buffer.from('plain text').toString('base64') },
        { url: origin.url('/missing.jpg') },
      ],
    });
    assert.equal(rejected.status, 400);
    const body = (await rejected.json()) as { code: string; errors: Array<{ index: number; code: string }> };
    assert.equal(body.code, 'IMAGES_REJECTED');
    assert.deepEqual(
      body.errors.map((e) => [e.index, e.code]),
      [
        [1, 'IMAGE_DATA_INVALID'],
        [2, 'IMAGE_UNRECOGNIZED'],
        [3, 'DOWNLOAD_FAILED'],
      ],
    );
  });

  test('with the SSRF guard on (the default), refuses a loopback URL without fetching it', async () => {
    const port = await freePort();
    const guarded = await startContainer(TAG, { PORT: String(port) });
    try {
      await waitUntilReady(`http://127.0.0.1:${port}`, 60_000);
      const before = hits.length;
      const response = await fetch(`http://127.0.0.1:${port}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ images: [{ url: origin.url('/owl.jpg') }] }),
      });
      assert.equal(response.status, 400);
      assert.deepEqual(
        ((await response.json()) as { errors: Array<{ code: string }> }).errors.map((e) => e.code),
        ['URL_FORBIDDEN'],
      );
      assert.equal(hits.length, before, 'the origin was not contacted');
    } finally {
      await removeContainer(guarded);
    }
  });

  test('runs as uid 1000, not root', async () => {
    assert.equal(await docker('exec', container, 'id', '-u'), '1000');
  });

  test('ships no dev dependency', async () => {
    assert.deepEqual(await packagesIn(TAG, '/app', DEV_DEPENDENCIES), []);
    // Sanity check of the probe itself: the runtime dependencies are found.
    assert.deepEqual(await packagesIn(TAG, '/app', ['sharp', 'onnxruntime-node']), ['sharp', 'onnxruntime-node']);
  });

  test('Docker’s HEALTHCHECK reports it healthy', async () => {
    assert.equal(
      await waitForInspect(container, '{{.State.Health.Status}}', ['healthy', 'unhealthy'], 60_000),
      'healthy',
    );
  });

  test('docker stop during load finishes the requests in flight, then exits 0', async (t) => {
    slowGate = new Promise((resolve) => (releaseSlow = resolve));
    const names = fixtureNames.slice(0, 6);
    const inFlight = names.map((name) => predict({ images: [{ url: origin.url(`/slow/${name}`) }] }));
    // Every request is inside the service once its download has reached the origin.
    while (names.some((name) => !hits.includes(`/slow/${name}`)))
      await new Promise((resolve) => setTimeout(resolve, 20));
    const stopped = docker('stop', '--time', '30', container);
    await new Promise((resolve) => setTimeout(resolve, 500));
    releaseSlow();
    const started = performance.now();
    const responses = await Promise.all(inFlight);
    await stopped;
    for (const [i, response] of responses.entries()) {
      const top = await top1(response);
      assert.ok(expected[names[i]!]!.acceptable_top1_wnids.includes(top.category), names[i]);
    }
    assert.equal(await docker('inspect', '--format', '{{.State.ExitCode}}', container), '0');
    t.diagnostic(
      `${names.length} requests in flight finished; ` +
        `stopped ${Math.round(performance.now() - started)} ms after their downloads were released`,
    );
  });
});
