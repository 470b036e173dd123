/**
 * The Lambda image (`docker build --target lambda`, as serverless.yml builds it), run behind the
 * Runtime Interface Emulator with the commands serverless.yml gives each function.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  DEV_DEPENDENCIES,
  type LambdaContainer,
  buildImage,
  imageSizeMb,
  packagesIn,
  removeContainer,
  startLambda,
} from '../helpers/docker.ts';
import { ROOT } from '../helpers/process.ts';

const TAG = 'classifier-lambda:test';
const TASK_ROOT = '/var/task';

const readEvent = async (file: string) => JSON.parse(await readFile(path.join(ROOT, 'test/events', file), 'utf8'));

/** Direct invocations that are not API Gateway HTTP requests. */
async function notHttpEvents(): Promise<Record<string, unknown>> {
  const v2 = await readEvent('http-api-v2.json');
  const { requestContext, ...withoutContext } = v2;
  const { http, ...contextWithoutHttp } = requestContext;
  return {
    '{}': {},
    '""': '',
    null: null,
    '[]': [],
    'no requestContext': withoutContext,
    'no requestContext.http': { ...v2, requestContext: contextWithoutHttp },
  };
}

describe('the Lambda image', () => {
  let predict: LambdaContainer;
  let health: LambdaContainer;
  const measured: string[] = [];

  before(async () => {
    const seconds = await buildImage('lambda', TAG);
    measured.push(`docker build --target lambda: ${seconds.toFixed(1)} s; image ${await imageSizeMb(TAG)} MB`);
    const started = performance.now();
    predict = await startLambda(TAG, ['dist/predict.handler']);
    const first = await predict.invoke(await readEvent('http-api-v2.json'));
    assert.equal(first.statusCode, 200, JSON.stringify(first));
    measured.push(
      `predict: container start to first answer (init included) ${Math.round(performance.now() - started)} ms`,
    );
    health = await startLambda(TAG, ['dist/health.handler']);
  });
  after(async () => {
    await Promise.all([predict && removeContainer(predict.id), health && removeContainer(health.id)]);
  });

  test('builds and answers (build time, size and start-to-first-answer reported)', (t) => {
    assert.equal(measured.length, 2);
    for (const line of measured) t.diagnostic(line);
  });

  for (const [file, kind] of [
    ['http-api-v2.json', 'v2, JSON body'],
    ['http-api-v2-base64.json', 'v2, base64 body'],
    ['rest-v1.json', 'v1 (REST API)'],
  ] as const) {
    test(`predict answers the ${kind} event with the right class`, async () => {
      const response = await predict.invoke(await readEvent(file));
      assert.equal(response.statusCode, 200, JSON.stringify(response));
      assert.match(response.headers['content-type'], /^application\/json/);
      const body = JSON.parse(response.body);
      assert.equal(body.images[0].name, 'Egyptian_cat');
      assert.equal(body.images[0].category, 'n02124075');
    });
  }

  test('dist/health.handler, the command serverless.yml gives health, answers its event', async (t) => {
    const started = performance.now();
    const response = await health.invoke(await readEvent('health-v2.json'));
    assert.deepEqual([response.statusCode, JSON.parse(response.body)], [200, { message: 'OK' }]);
    t.diagnostic(
      `health: first answer ${Math.round(performance.now() - started)} ms after the invocation (init included)`,
    );
  });

  for (const fn of ['predict', 'health'] as const) {
    test(`${fn} answers events that are not API Gateway requests with a JSON 400 EVENT_UNSUPPORTED`, async () => {
      const container = fn === 'predict' ? predict : health;
      for (const [label, event] of Object.entries(await notHttpEvents())) {
        const response = await container.invoke(event);
        assert.equal(response.statusCode, 400, `${label}: ${JSON.stringify(response)}`);
        assert.match(response.headers['content-type'], /^application\/json/, label);
        assert.equal(JSON.parse(response.body).code, 'EVENT_UNSUPPORTED', label);
      }
    });
  }

  test('ships no dev dependency, and no TF.js beside model.onnx', async () => {
    assert.deepEqual(
      await packagesIn(TAG, TASK_ROOT, [...DEV_DEPENDENCIES, '@tensorflow/tfjs', '@tensorflow/tfjs-node']),
      [],
    );
    assert.deepEqual(await packagesIn(TAG, TASK_ROOT, ['sharp', 'onnxruntime-node']), ['sharp', 'onnxruntime-node']);
  });
});
