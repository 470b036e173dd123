import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type EngineChoice, loadConfig } from '../../lib/config.ts';
import { type Classifier, inProcessOptions, loadClassifier, serverOptions } from '../../lib/model/classifier.ts';
import { ModelFolderError } from '../../lib/model/model-folder.ts';
import { type RunningApp, get, post, silentLogger, startApp } from '../helpers/app.ts';
import { TINY_ONNX_DIR, solidPng, writeTinyGraphModel, writeTinyLayersModel } from '../helpers/tiny-models.ts';

const RED: [number, number, number] = [255, 0, 0];
const BLUE: [number, number, number] = [0, 0, 255];

// p(red) for a pure red image, worked out from each model's weights and input contract.
const TFJS_RED = Number((Math.exp(2) / (Math.exp(2) + Math.exp(-2))).toFixed(4)); // 0.982
const ONNX_LOGIT = (1 - 0.485) / 0.229 - (0 - 0.406) / 0.225; // ImageNet mean/std, NCHW, logits
const ONNX_RED = Number((1 / (1 + Math.exp(-2 * ONNX_LOGIT))).toFixed(4)); // 0.9997

describe('serving your own model (MODEL_DIR)', () => {
  let dir: string;
  let red: string;
  let blue: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'own-model-'));
    [red, blue] = await Promise.all([solidPng(RED), solidPng(BLUE)]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** The real server with the model folder, asked about a red and a blue image. */
  async function predictWith(modelDir: string, env: Record<string, string> = {}) {
    const app: RunningApp = await startApp({
      env: { MODEL_DIR: modelDir, ...env },
      classifier: await loadClassifier(inProcessOptions(loadConfig({ MODEL_DIR: modelDir, ...env })), silentLogger),
    });
    try {
      const predictions = await post(`${app.baseUrl}/v1/predict`, {
        images: [{ data: red }, { data: blue }],
        top_k: 2,
      });
      const model = await get(`${app.baseUrl}/v1/models`);
      return { predictions, model: model.body };
    } finally {
      await app.close();
    }
  }

  test('an ONNX export in NCHW with ImageNet mean/std and logits (model.config.json)', async () => {
    const { predictions, model } = await predictWith(TINY_ONNX_DIR);
    assert.equal(predictions.status, 200);
    assert.deepEqual(
      predictions.body.images.map((image: { name: string; score: number }) => [image.name, image.score]),
      [
        ['red', ONNX_RED],
        ['blue', Number((1 / (1 + Math.exp(-2 * ((1 - 0.406) / 0.225 - (0 - 0.485) / 0.229)))).toFixed(4))],
      ],
    );
    // Softmax was applied: the two classes' probabilities add up to 1.
    for (const image of predictions.body.images)
      assert.ok(Math.abs(image.predictions[0].score + image.predictions[1].score - 1) <= 1e-4);
    assert.deepEqual(model, {
      name: 'tiny-onnx-nchw',
      engine: 'onnx',
      input: { width: 32, height: 32, channels: 3 },
      classes: 2,
    });
  });

  for (const engine of ['tfjs-wasm', 'tfjs-cpu'] as const) {
    test(`a TF.js layers-model with the default contract (${engine})`, async () => {
      const folder = path.join(dir, `layers-${engine}`);
      await writeTinyLayersModel(folder);
      const { predictions, model } = await predictWith(folder, { ENGINE: engine });
      assert.deepEqual(
        predictions.body.images.map((image: { name: string; score: number }) => [image.name, image.score]),
        [
          ['red', TFJS_RED],
          ['blue', TFJS_RED],
        ],
      );
      assert.equal(model.engine, engine);
      assert.equal(model.classes, 2);
    });
  }

  test('a TF.js graph-model', async () => {
    const folder = path.join(dir, 'graph');
    await writeTinyGraphModel(folder);
    const { predictions } = await predictWith(folder);
    assert.deepEqual(
      predictions.body.images.map((image: { name: string; score: number }) => [image.name, image.score]),
      [
        ['red', TFJS_RED],
        ['blue', TFJS_RED],
      ],
    );
  });

  test('channelOrder BGR swaps what the model sees: red looks blue', async () => {
    const folder = path.join(dir, 'bgr');
    await writeTinyLayersModel(folder, { input: { channelOrder: 'BGR' } });
    const { predictions } = await predictWith(folder);
    assert.deepEqual(
      predictions.body.images.map((image: { name: string }) => image.name),
      ['blue', 'red'],
    );
  });

  test('the ONNX model also runs on worker threads, as the server runs it', async () => {
    const classifier: Classifier = await loadClassifier(
      serverOptions(loadConfig({ MODEL_DIR: TINY_ONNX_DIR, WORKERS: '1' })),
      silentLogger,
    );
    try {
      const app = await startApp({ env: { MODEL_DIR: TINY_ONNX_DIR }, classifier });
      const { body } = await post(`${app.baseUrl}/v1/predict`, { images: [{ data: red }] });
      await app.close();
      assert.deepEqual([body.images[0].name, body.images[0].score], ['red', ONNX_RED]);
    } finally {
      await classifier.dispose();
    }
  });

  describe('refuses at start-up, with a message naming the problem', () => {
    const load = (folder: string, engine: EngineChoice = 'auto') =>
      loadClassifier(inProcessOptions(loadConfig({ MODEL_DIR: folder, ENGINE: engine })), silentLogger);

    test('a model.config.json with a bad value', async () => {
      const folder = path.join(dir, 'bad-config');
      await writeTinyLayersModel(folder, { input: { layout: 'HWC' } });
      await assert.rejects(
        load(folder),
        (error: unknown) =>
          error instanceof ModelFolderError &&
          new RegExp(
            'model\\.config\\.json is not usable: .*' +
              'input\\.layout must be equal to one of the allowed values \\(NHWC, NCHW\\)',
          ).test(error.message),
      );
    });

    test('a model.config.json that is not JSON', async () => {
      const folder = path.join(dir, 'not-json');
      await writeTinyLayersModel(folder);
      await writeFile(path.join(folder, 'model.config.json'), '{ layout: NCHW }');
      await assert.rejects(
        load(folder),
        (error: unknown) =>
          error instanceof ModelFolderError && /model\.config\.json is not usable/.test(error.message),
      );
    });

    test('a size that contradicts the model', async () => {
      const folder = path.join(dir, 'wrong-size');
      await writeTinyLayersModel(folder, { input: { width: 64 } });
      await assert.rejects(load(folder, 'tfjs-wasm'), /input width is 32 but model\.config\.json says 64/);
    });

    test('the wrong layout for the model', async () => {
      const folder = path.join(dir, 'wrong-layout');
      await writeTinyLayersModel(folder, { input: { layout: 'NCHW' } });
      await assert.rejects(load(folder, 'tfjs-wasm'), /takes 32 channels in NCHW layout/);
    });
  });
});
