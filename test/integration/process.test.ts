import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:net';
import { readFixture } from '../helpers/fixtures.ts';
import { type TestServer, startHttpServer } from '../helpers/http-server.ts';
import { ROOT, spawnServer, waitUntilReady } from '../helpers/process.ts';

describe('server process', () => {
  let slowImages: TestServer;
  before(async () => {
    const owl = await readFixture('owl.jpg');
    // Answers after 800 ms, so a request is surely in flight when the signal arrives.
    slowImages = await startHttpServer((req, res) => {
      if (req.url !== '/never') setTimeout(() => res.end(owl), 800);
    });
  });
  after(() => slowImages.close());

  /**
   * A predict request whose download is still waiting on the slow origin when this resolves (wrapped:
   * an async function would otherwise wait for the response itself).
   */
  async function requestInFlight(baseUrl: string): Promise<{ response: Promise<Response> }> {
    const inFlight = fetch(`${baseUrl}/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images: [{ url: slowImages.url('/owl.jpg') }] }),
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { response: inFlight };
  }

  test('on an unhandled rejection, logs it, finishes the request in flight and exits 1', async () => {
    const preload = new URL('../fixtures/preload/reject-on-sigusr2.mjs', import.meta.url).href;
    const server = await spawnServer({ ALLOW_PRIVATE_URLS: 'true' }, [
      '--import',
      'tsx',
      '--import',
      preload,
      'lib/main.ts',
    ]);
    await waitUntilReady(server.baseUrl);
    const inFlight = (await requestInFlight(server.baseUrl)).response;
    server.child.kill('SIGUSR2');

    assert.equal((await inFlight).status, 200);
    assert.equal(await server.exited, 1);
    const fatal = server.logs.find((line) => (line as { level?: string }).level === 'CRITICAL') as {
      message: string;
      error: { message: string };
    };
    assert.match(fatal.message, /^unhandledRejection/);
    assert.equal(fatal.error.message, 'a bug nobody caught');
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`on ${signal}, finishes the request in flight, refuses new connections and exits 0`, async () => {
      const server = await spawnServer({ ALLOW_PRIVATE_URLS: 'true' });
      await waitUntilReady(server.baseUrl);
      const inFlight = (await requestInFlight(server.baseUrl)).response;
      server.child.kill(signal);

      const response = await inFlight;
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { images: Array<{ name: string }> }).images[0]!.name, 'ruffed_grouse');
      assert.equal(await server.exited, 0);
      await assert.rejects(fetch(`${server.baseUrl}/health`), /fetch failed/);
      assert.ok(server.logs.some((line) => (line as { message?: string }).message === 'Stopped'));
    });
  }

  test(
    'on SIGTERM under load, every accepted request completes, later ones are refused, ' +
      'and it exits 0 within DRAIN_TIMEOUT_MS',
    async () => {
      const server = await spawnServer({ ALLOW_PRIVATE_URLS: 'true', DRAIN_TIMEOUT_MS: '5000' });
      await waitUntilReady(server.baseUrl);
      const body = JSON.stringify({ images: [{ url: slowImages.url('/owl.jpg') }] });
      const accepted = Array.from({ length: 8 }, () =>
        fetch(`${server.baseUrl}/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        }),
      );
      // A keep-alive connection busy when the signal arrives is closed after its response, so a
      // request pipelined behind it is left unprocessed, for the client to send elsewhere.
      const socket = connect(Number(new URL(server.baseUrl).port), '127.0.0.1');
      let pipelined = '';
      socket.on('data', (chunk) => (pipelined += chunk));
      const socketClosed = once(socket, 'close');
      socket.write(
        'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` +
          'GET /health/ready HTTP/1.1\r\nHost: x\r\n\r\n',
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      const signalledAt = performance.now();
      server.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 100));

      await assert.rejects(fetch(`${server.baseUrl}/health`), /fetch failed/, 'new connections are refused');
      for (const response of await Promise.all(accepted)) assert.equal(response.status, 200);
      await socketClosed;
      const answers = pipelined.split(/(?=HTTP\/1\.1 )/);
      assert.equal(answers.length, 1);
      assert.match(answers[0]!, /^HTTP\/1\.1 200/);
      assert.match(answers[0]!, /\r\nconnection: close\r\n/i);
      assert.equal(await server.exited, 0);
      assert.ok(performance.now() - signalledAt < 5000, 'exited before the drain timeout');
    },
  );

  test('when requests outlast DRAIN_TIMEOUT_MS, it exits anyway, with code 1 and a log line', async () => {
    const server = await spawnServer({ ALLOW_PRIVATE_URLS: 'true', DRAIN_TIMEOUT_MS: '300', TIMEOUT: '30' });
    await waitUntilReady(server.baseUrl);
    const stuck = fetch(`${server.baseUrl}/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images: [{ url: slowImages.url('/never') }] }),
    }).catch(() => 'reset');
    await new Promise((resolve) => setTimeout(resolve, 200));
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 1);
    assert.equal(await stuck, 'reset');
    assert.ok(server.logs.some((line) => /after the drain timeout/.test((line as { message?: string }).message ?? '')));
  });

  test('logs JSON lines with the request id of each request', async () => {
    const server = await spawnServer({});
    await waitUntilReady(server.baseUrl);
    await fetch(`${server.baseUrl}/health`, { headers: { 'x-request-id': 'abc-123' } });
    server.child.kill('SIGTERM');
    await server.exited;
    const line = server.logs.find((entry) => (entry as { request_id?: string }).request_id === 'abc-123') as Record<
      string,
      unknown
    >;
    assert.deepEqual([line.level, line.message, line.path, line.status], ['INFO', 'Request completed', '/health', 200]);
  });

  test('logs a client that hangs up mid-upload or stalls as a client problem, not an error, and goes on', async () => {
    const server = await spawnServer({ REQUEST_TIMEOUT_MS: '500' });
    await waitUntilReady(server.baseUrl);
    const port = Number(new URL(server.baseUrl).port);
    const partial =
      'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Content-Length: 1000\r\n\r\n{"images": [';
    const hangsUp = connect(
      port,
      '127.0.0.1',
      () => void hangsUp.write(partial, () => setTimeout(() => hangsUp.destroy(), 100)),
    );
    const stalls = connect(port, '127.0.0.1', () => void stalls.write(partial));
    let answer = '';
    stalls.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
    await Promise.all([once(hangsUp, 'close'), once(stalls, 'close')]);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.equal((await fetch(`${server.baseUrl}/health/ready`)).status, 200);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    const levels = server.logs.map((entry) => (entry as { level?: string }).level);
    assert.ok(!levels.includes('ERROR') && !levels.includes('CRITICAL'), JSON.stringify(server.logs));
    const clientErrors = server.logs.filter((entry) => (entry as { message?: string }).message === 'Client error');
    assert.deepEqual(clientErrors.map((entry) => (entry as { code: string }).code).sort(), [
      'REQUEST_MALFORMED',
      'REQUEST_TIMEOUT',
    ]);
  });

  test('exits 2 with a message naming the variable when the configuration is invalid', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'lib/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, TIMEOUT: 'soon' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const [code] = await once(child, 'exit');
    assert.equal(code, 2);
    assert.match(stderr, /Invalid configuration: TIMEOUT must be integer \(received "soon"\)/);
  });

  test('exits 1 with a critical log line when the model folder cannot be served', async () => {
    const server = await spawnServer({ MODEL_DIR: 'test/fixtures' });
    assert.equal(await server.exited, 1);
    const line = server.logs.find((entry) => (entry as { level?: string }).level === 'CRITICAL') as {
      message: string;
      error: { message: string };
    };
    assert.equal(line.message, 'The model could not be loaded');
    assert.match(line.error.message, /neither model.json/);
  });
});
