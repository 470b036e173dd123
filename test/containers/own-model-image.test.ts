/**
 * Your own model in the images: `docker build --build-arg MODEL_DIR=models/tiny`, from a build
 * context that holds that model folder only (the red-or-blue ONNX test model).
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import {
  buildContextWith,
  buildImage,
  freePort,
  packagesIn,
  removeContainer,
  startContainer,
  startLambda,
} from '../helpers/docker.ts';
import { httpApiEvent } from '../helpers/lambda.ts';
import { waitUntilReady } from '../helpers/process.ts';
import { TINY_ONNX_DIR, solidPng } from '../helpers/tiny-models.ts';

const BUILD_ARGS = { MODEL_DIR: 'models/tiny' };

describe('an image built with --build-arg MODEL_DIR=<your model folder>', () => {
  let context: string;
  let red: string;
  let blue: string;
  const containers: string[] = [];

  before(async () => {
    context = await buildContextWith({ tiny: TINY_ONNX_DIR });
    [red, blue] = await Promise.all([solidPng([255, 0, 0]), solidPng([0, 0, 255])]);
  });
  after(async () => {
    await Promise.all(containers.map(removeContainer));
    await rm(context, { recursive: true, force: true });
  });

  test('the Beanstalk image serves that model’s classes', async () => {
    await buildImage('beanstalk', 'classifier-beanstalk:tiny', { context, buildArgs: BUILD_ARGS });
    const port = await freePort();
    containers.push(await startContainer('classifier-beanstalk:tiny', { PORT: String(port) }));
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitUntilReady(baseUrl, 60_000);
    const response = await fetch(`${baseUrl}/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images: [{ data: red }, { data: blue }] }),
    });
    assert.equal(response.status, 200);
    assert.deepEqual(
      ((await response.json()) as { images: Array<{ name: string }> }).images.map((image) => image.name),
      ['red', 'blue'],
    );
    const model = (await (await fetch(`${baseUrl}/v1/models`)).json()) as { name: string; classes: number };
    assert.deepEqual([model.name, model.classes], ['tiny', 2]); // named after its folder
  });

  test('the Lambda image serves that model’s classes', async () => {
    await buildImage('lambda', 'classifier-lambda:tiny', { context, buildArgs: BUILD_ARGS });
    const lambda = await startLambda('classifier-lambda:tiny', ['dist/predict.handler']);
    containers.push(lambda.id);
    const response = await lambda.invoke(
      httpApiEvent('POST', '/v1/predict', {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ images: [{ data: blue }, { data: red }] }),
      }),
    );
    assert.equal(response.statusCode, 200, JSON.stringify(response));
    assert.deepEqual(
      JSON.parse(response.body).images.map((image: { name: string }) => image.name),
      ['blue', 'red'],
    );
    assert.deepEqual(
      await packagesIn('classifier-lambda:tiny', '/var/task', ['@tensorflow/tfjs', 'onnxruntime-node']),
      ['onnxruntime-node'],
    );
  });
});
