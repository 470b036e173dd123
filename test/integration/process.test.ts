import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { readFixture } from '../helpers/fixtures.ts';
import { type TestServer, startHttpServer } from '../helpers/http-server.ts';
import { ROOT, spawnServer, waitUntilReady } from '../helpers/process.ts';

describe('server process', () => {
  let slowImages: TestServer;
  before(async () => {
    const owl = await readFixture('owl.jpg');
    // Answers after 800 ms, so a request is surely in flight when the signal arrives.
    slowImages = await startHttpServer((_req, res) => void setTimeout(() => res.end(owl), 800));
  });
  after(() => slowImages.close());

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`on ${signal}, finishes the request in flight, refuses new connections and exits 0`, async () => {
      const server = await spawnServer({ ALLOW_PRIVATE_URLS: 'true' });
      await waitUntilReady(server.baseUrl);
      const inFlight = fetch(`${server.baseUrl}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ images: [{ url: slowImages.url('/owl.jpg') }] }),
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      server.child.kill(signal);

      const response = await inFlight;
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { images: Array<{ name: string }> }).images[0]!.name, 'ruffed_grouse');
      assert.equal(await server.exited, 0);
      await assert.rejects(fetch(`${server.baseUrl}/health`), /fetch failed/);
      assert.ok(server.logs.some((line) => (line as { message?: string }).message === 'Stopped'));
    });
  }

  test('logs JSON lines with the request id of each request', async () => {
    const server = await spawnServer({});
    await waitUntilReady(server.baseUrl);
    await fetch(`${server.baseUrl}/health`, { headers: { 'x-request-id': 'abc-123' } });
    server.child.kill('SIGTERM');
    await server.exited;
    const line = server.logs.find((entry) => (entry as { request_id?: string }).request_id === 'abc-123') as Record<string, unknown>;
    assert.deepEqual([line.level, line.message, line.path, line.status], ['INFO', 'Request completed', '/health', 200]);
  });

  test('exits 2 with a message naming the variable when the configuration is invalid', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'lib/main.ts'], { cwd: ROOT, env: { PATH: process.env.PATH, TIMEOUT: 'soon' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const [code] = await once(child, 'exit');
    assert.equal(code, 2);
    assert.match(stderr, /Invalid configuration: TIMEOUT must be integer \(received "soon"\)/);
  });

  test('exits 1 with a critical log line when the model folder cannot be served', async () => {
    const server = await spawnServer({ MODEL_DIR: 'test/fixtures' });
    assert.equal(await server.exited, 1);
    const line = server.logs.find((entry) => (entry as { level?: string }).level === 'CRITICAL') as { message: string; error: { message: string } };
    assert.equal(line.message, 'The model could not be loaded');
    assert.match(line.error.message, /neither model.json/);
  });
});
