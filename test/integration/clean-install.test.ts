import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, spawnServer, waitUntilReady } from '../helpers/process.ts';

const run = promisify(execFile);

// What the Dockerfile does, without Docker: bundle (build stage), install production dependencies
// with the same script (runtime-deps stage), copy the bundle and the model beside them (final
// stages), then run what the images run, from that folder alone.
describe('the bundle in a clean folder with production dependencies only', () => {
  let dir: string;
  let event: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'clean-install-'));
    await run(process.execPath, ['scripts/build.mjs'], { cwd: ROOT });
    for (const entry of [
      'dist',
      'models',
      'public',
      'bin',
      'package.json',
      'package-lock.json',
      '.npmrc',
      'scripts/install-runtime-deps.sh',
    ]) {
      await cp(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
    }
    // The npm cache already holds these packages (CI's npm ci put them there). The model folder has
    // model.onnx, so TFJS=auto leaves TF.js out, as in the images.
    await run('sh', ['scripts/install-runtime-deps.sh'], {
      cwd: dir,
      env: { ...process.env, npm_config_prefer_offline: 'true' },
      maxBuffer: 16 * 1024 * 1024,
    });
    event = await readFile(path.join(ROOT, 'test/events/http-api-v2.json'), 'utf8');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('holds no dev dependency, no TF.js and no TypeScript source', async () => {
    await assert.rejects(readFile(path.join(dir, 'node_modules/@tensorflow/tfjs-node/package.json')));
    // model.onnx serves, so TF.js (tfjs, tfjs-wasm) is left out too.
    await assert.rejects(readFile(path.join(dir, 'node_modules/@tensorflow/tfjs/package.json')));
    await assert.rejects(readFile(path.join(dir, 'node_modules/tsx/package.json')));
    await assert.rejects(readFile(path.join(dir, 'node_modules/typescript/package.json')));
    await assert.rejects(readFile(path.join(dir, 'node_modules/osls/package.json')));
    await assert.rejects(readFile(path.join(dir, 'lib/service.ts')));
  });

  test('runs the Lambda predict handler from dist/', async (t) => {
    const script = `
      const started = performance.now();
      const { handler } = await import('./dist/predict.mjs');
      const ready = performance.now();
      const context = { awsRequestId: 'local', functionName: 'predict', functionVersion: '1', invokedFunctionArn: 'arn',
        memoryLimitInMB: '2048', logGroupName: 'g', logStreamName: 's', getRemainingTimeInMillis: () => 29000 };
      const result = await handler(JSON.parse(process.env.EVENT), context);
      console.error(JSON.stringify({ result, initMs: ready - started, firstMs: performance.now() - ready }));`;
    const { stderr } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      env: { PATH: process.env.PATH, EVENT: event, LOG_LEVEL: 'ERROR' },
    });
    const { result, initMs, firstMs } = JSON.parse(stderr.trim().split('\n').at(-1)!);
    assert.equal(result.statusCode, 200);
    assert.equal(JSON.parse(result.body).images[0].name, 'Egyptian_cat');
    t.diagnostic(`Lambda handler: init ${Math.round(initMs)} ms, first invocation ${Math.round(firstMs)} ms`);
  });

  test('runs the classify command from dist/ (no tsx here), with the bundled model', async () => {
    await cp(path.join(ROOT, 'test/fixtures/owl.jpg'), path.join(dir, 'owl.jpg'));
    const { stdout } = await run(process.execPath, ['bin/classify.mjs', '--json', 'owl.jpg'], {
      cwd: dir,
      env: { PATH: process.env.PATH },
    });
    assert.equal(
      (JSON.parse(stdout) as { predictions: Array<{ name: string }> }).predictions[0]!.name,
      'ruffed_grouse',
    );
  });

  test('starts the HTTP server from dist/ and classifies an image', async (t) => {
    const started = performance.now();
    const server = await spawnServer({ MODEL_DIR: 'models/mobilenet_v2' }, ['dist/server.mjs'], dir);
    try {
      await waitUntilReady(server.baseUrl);
      const body = JSON.parse(JSON.parse(event).body);
      const response = await fetch(`${server.baseUrl}/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 200);
      assert.equal(((await response.json()) as { images: Array<{ name: string }> }).images[0]!.name, 'Egyptian_cat');
      t.diagnostic(`server: process start to first prediction ${Math.round(performance.now() - started)} ms`);
    } finally {
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);
    }
  });
});
