import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { text } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { CONFIG_SCHEMA } from '../../lib/config.ts';
import { routeKey, routesOf } from '../../lib/routes.ts';
import { ROOT } from '../helpers/process.ts';

/**
 * Runs the pinned framework CLI (osls) as a user would, through npx. Its stdin is empty: `invoke
 * local` without --path reads the event from a stdin that is not a terminal, and would wait on a pipe.
 */
async function serverless(...args: string[]): Promise<string> {
  const child = spawn('npx', ['--no-install', 'serverless', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' },
  });
  const [stdout, stderr, code] = await Promise.all([
    text(child.stdout),
    text(child.stderr),
    new Promise((resolve) => child.on('close', resolve)),
  ]);
  assert.equal(code, 0, `serverless ${args.join(' ')} exited with ${code}:\n${stderr.slice(-2000)}`);
  return stdout;
}

async function print(...args: string[]): Promise<any> {
  return JSON.parse(await serverless('print', '--format', 'json', ...args));
}

/** The response `invoke local` prints last, as indented JSON, after the function's own log lines. */
function invokeResult(stdout: string): { statusCode: number; headers: Record<string, string>; body: string } {
  const lines = stdout.split('\n');
  const start = lines.lastIndexOf('{');
  assert.ok(start >= 0, `no result in:\n${stdout.slice(-2000)}`);
  return JSON.parse(lines.slice(start).join('\n'));
}

describe('serverless.yml (osls, offline)', () => {
  test('prints the dev stage: two image functions, their routes, and the default params', async () => {
    const config = await print('--stage', 'dev');
    assert.equal(config.provider.stage, 'dev');
    assert.equal(config.provider.region, 'us-east-1');
    assert.equal(config.provider.runtime, 'nodejs22.x');
    assert.deepEqual(config.provider.ecr.images.classifier, {
      path: './',
      file: 'Dockerfile',
      buildOptions: ['--target', 'lambda'],
      buildArgs: { MODEL_DIR: 'models/mobilenet_v2' },
      platform: 'linux/amd64',
      provenance: 'false',
    });
    assert.equal(config.provider.environment.MODEL_DIR, 'models/mobilenet_v2');
    const { predict, health } = config.functions;
    assert.deepEqual(predict.image, { name: 'classifier', command: ['dist/predict.handler'] });
    assert.deepEqual(health.image, { name: 'classifier', command: ['dist/health.handler'] });
    assert.equal(predict.handler, null);
    // API Gateway routes exactly the route table's routes, each to its function.
    for (const [name, fn] of [
      ['predict', predict],
      ['health', health],
    ] as const) {
      assert.deepEqual(
        fn.events.map((e: { httpApi: string }) => e.httpApi).sort(),
        routesOf(name).map(routeKey).sort(),
        name,
      );
    }
    assert.equal(predict.memorySize, 2048);
    assert.ok(predict.timeout <= 29, 'within API Gateway’s 30 s');
    assert.equal(predict.provisionedConcurrency, 0);
    assert.equal(config.provider.logRetentionInDays, 14);
  });

  test('prints the prod stage with its own params, and takes a param from the command line', async () => {
    const config = await print(
      '--stage',
      'prod',
      '--region',
      'eu-west-1',
      '--param',
      'predictProvisionedConcurrency=2',
    );
    assert.equal(config.provider.region, 'eu-west-1');
    assert.equal(config.functions.predict.memorySize, 3008);
    assert.equal(config.provider.logRetentionInDays, 90);
    assert.equal(config.functions.predict.provisionedConcurrency, 2);
    assert.equal(config.functions.predict.name, 'image-classifier-prod-predict');
  });

  test('builds and names your own model folder from one param (modelDir)', async () => {
    const config = await print('--stage', 'dev', '--param', 'modelDir=models/mine');
    assert.deepEqual(config.provider.ecr.images.classifier.buildArgs, { MODEL_DIR: 'models/mine' });
    assert.equal(config.provider.environment.MODEL_DIR, 'models/mine');
  });

  test('configures the functions with the same setting names as the server', async () => {
    const config = await print('--stage', 'dev');
    const names = Object.keys(config.provider.environment);
    assert.ok(names.length > 5);
    for (const name of names) assert.ok(name in CONFIG_SCHEMA, `${name} is not a setting of lib/config.ts`);
  });

  test('swaps the images for the TypeScript handlers in the local stage', async () => {
    const config = await print('--stage', 'local');
    assert.equal(config.functions.predict.handler, 'handlers/predict.handler');
    assert.equal(config.functions.predict.image, null);
  });

  for (const [file, version] of [
    ['http-api-v2.json', 'HTTP API v2'],
    ['http-api-v2-base64.json', 'HTTP API v2, base64 body'],
    ['rest-v1.json', 'REST v1'],
  ]) {
    test(`invoke local runs predict on the ${version} event and prints the real response`, async () => {
      const response = invokeResult(
        await serverless('invoke', 'local', '--stage', 'local', '-f', 'predict', '--path', `test/events/${file}`),
      );
      assert.equal(response.statusCode, 200);
      const body = JSON.parse(response.body);
      assert.equal(body.images[0].name, 'Egyptian_cat');
      assert.equal(body.images[0].predictions.length, 3);
    });
  }

  for (const fn of ['health', 'predict']) {
    test(`invoke local -f ${fn} without --path (no event) answers 400 EVENT_UNSUPPORTED`, async () => {
      const response = invokeResult(await serverless('invoke', 'local', '--stage', 'local', '-f', fn));
      assert.deepEqual([response.statusCode, JSON.parse(response.body).code], [400, 'EVENT_UNSUPPORTED']);
    });
  }

  test('invoke local runs health', async () => {
    const response = invokeResult(
      await serverless('invoke', 'local', '--stage', 'local', '-f', 'health', '--path', 'test/events/health-v2.json'),
    );
    assert.deepEqual([response.statusCode, JSON.parse(response.body)], [200, { message: 'OK' }]);
  });
});
