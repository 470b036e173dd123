import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { type EngineChoice, loadConfig } from '../../lib/config.ts';
import { decodeImage } from '../../lib/images/decode.ts';
import { EngineUnavailableError } from '../../lib/model/engines/engine.ts';
import { type Classifier, inProcessOptions, loadClassifier, serverOptions } from '../../lib/model/classifier.ts';
import { ModelFolderError } from '../../lib/model/model-folder.ts';
import { topPredictions } from '../../lib/model/predictions.ts';
import { sharedClassifier, silentLogger } from '../helpers/app.ts';
import { MODEL_DIR, expected, fixtureNames, readFixture } from '../helpers/fixtures.ts';

async function tfjsNodeLoads(): Promise<boolean> {
  return import('@tensorflow/tfjs-node' as string).then(
    () => true,
    () => false,
  );
}

const maxDifference = (a: Float32Array, b: Float32Array) =>
  a.reduce((max, p, i) => Math.max(max, Math.abs(p - b[i]!)), 0);

describe('classifier', () => {
  let onnx: Classifier;
  let wasm: Classifier;
  const pixels = new Map<string, Buffer>();
  const all = () => fixtureNames.map((name) => pixels.get(name)!);

  // A folder with the TF.js model and class index, but no model.onnx.
  let tfjsOnly: string;

  before(async () => {
    onnx = await sharedClassifier('auto');
    wasm = await sharedClassifier('tfjs-wasm');
    for (const name of fixtureNames)
      pixels.set(name, await decodeImage(await readFixture(name), onnx.info.input, { maxPixels: 5e7 }));
    tfjsOnly = await mkdtemp(path.join(os.tmpdir(), 'tfjs-only-'));
    for (const file of await readdir(MODEL_DIR))
      if (file !== 'model.onnx') await symlink(path.join(MODEL_DIR, file), path.join(tfjsOnly, file));
  });
  after(() => rm(tfjsOnly, { recursive: true, force: true }));

  describe('engine choice', () => {
    test('auto picks onnx when the model folder has model.onnx', () => {
      assert.equal(onnx.info.engine, 'onnx');
    });

    test('auto picks tfjs-node if it loads, else tfjs-wasm, when there is no model.onnx; never tfjs-cpu', async () => {
      const classifier = await loadClassifier(inProcessOptions(loadConfig({ MODEL_DIR: tfjsOnly })), silentLogger);
      try {
        assert.equal(classifier.info.engine, (await tfjsNodeLoads()) ? 'tfjs-node' : 'tfjs-wasm');
      } finally {
        await classifier.dispose();
      }
    });

    test('an engine named explicitly that cannot load stops start-up instead of falling back', async (t) => {
      if (await tfjsNodeLoads()) return t.skip('tfjs-node is installed here');
      await assert.rejects(
        loadClassifier(inProcessOptions(loadConfig({ MODEL_DIR, ENGINE: 'tfjs-node' })), silentLogger),
        EngineUnavailableError,
      );
    });

    test('onnx needs model.onnx', async () => {
      await assert.rejects(
        loadClassifier(inProcessOptions(loadConfig({ MODEL_DIR: tfjsOnly, ENGINE: 'onnx' })), silentLogger),
        /onnx needs a model.onnx/,
      );
    });

    test('reports the model read from the folder', () => {
      assert.deepEqual(
        { ...onnx.info, engine: undefined },
        { name: 'mobilenet_v2', engine: undefined, input: { width: 224, height: 224, channels: 3 }, classes: 1000 },
      );
      assert.deepEqual(onnx.labels[285], { category: 'n02124075', name: 'Egyptian_cat' });
    });
  });

  describe('predictions', () => {
    for (const engine of ['onnx', 'tfjs-wasm'] as const) {
      test(`${engine} predicts every fixture within 0.02 of the reference, with an acceptable top-1`, async () => {
        const { probabilities } = await (engine === 'onnx' ? onnx : wasm).classify(all());
        fixtureNames.forEach((name, i) => {
          const [top] = topPredictions(probabilities[i]!, onnx.labels, 1);
          assert.ok(
            expected[name]!.acceptable_top1_wnids.includes(top!.category),
            `${name}: ${top!.category} ${top!.name}`,
          );
          assert.ok(
            Math.abs(top!.score - expected[name]!.top1.prob) <= 0.02,
            `${name}: ${top!.score} vs ${expected[name]!.top1.prob}`,
          );
        });
      });
    }

    test('onnx and tfjs-wasm agree: same top-1, probabilities within 1e-4', async () => {
      const [a, b] = await Promise.all([onnx.classify(all()), wasm.classify(all())]);
      fixtureNames.forEach((name, i) => {
        const [topA] = topPredictions(a.probabilities[i]!, onnx.labels, 1);
        const [topB] = topPredictions(b.probabilities[i]!, onnx.labels, 1);
        assert.equal(topA!.category, topB!.category, name);
        assert.ok(
          maxDifference(a.probabilities[i]!, b.probabilities[i]!) < 1e-4,
          `${name}: ${maxDifference(a.probabilities[i]!, b.probabilities[i]!)}`,
        );
      });
    });

    test('tfjs-cpu (in a worker thread, where TF.js has its own backend) matches onnx on two fixtures', async () => {
      const config = loadConfig({ MODEL_DIR, ENGINE: 'tfjs-cpu', WORKERS: '1' });
      const cpu = await loadClassifier(serverOptions(config), silentLogger);
      try {
        assert.equal(cpu.info.engine, 'tfjs-cpu');
        const images = [pixels.get('cat.bmp')!, pixels.get('hot_dog.jpg')!];
        const [a, b] = await Promise.all([onnx.classify(images), cpu.classify(images)]);
        for (let i = 0; i < images.length; i++)
          assert.ok(maxDifference(a.probabilities[i]!, b.probabilities[i]!) < 1e-4);
      } finally {
        await cpu.dispose();
      }
    });

    for (const engine of ['onnx', 'tfjs-wasm'] as const) {
      test(`${engine} gives the same probabilities for an image alone and in a batch over BATCH_SIZE`, async () => {
        const classifier = engine === 'onnx' ? onnx : wasm;
        const { probabilities: batch, batchSizes } = await classifier.classify(all());
        assert.deepEqual(batchSizes, [4, 4, 2]);
        for (const [i, name] of fixtureNames.entries()) {
          const { probabilities } = await classifier.classify([pixels.get(name)!]);
          assert.ok(maxDifference(probabilities[0]!, batch[i]!) < 1e-4, name);
        }
      });
    }

    test('tfjs leaves no tensors behind, and says so through tensors()', async () => {
      const before = tf.memory().numTensors;
      assert.equal(await wasm.tensors(), before);
      await wasm.classify([pixels.get('cat.bmp')!, pixels.get('owl.jpg')!]);
      assert.equal(tf.memory().numTensors, before);
      assert.equal(await wasm.tensors(), before);
    });
  });

  describe('model folders', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'model-'));
    });
    after(() => rm(dir, { recursive: true, force: true }));
    const load = (engine: EngineChoice = 'auto') =>
      loadClassifier(inProcessOptions(loadConfig({ MODEL_DIR: dir, ENGINE: engine })), silentLogger);

    test('refuses a folder without a model', async () => {
      await assert.rejects(
        load(),
        (error: unknown) => error instanceof ModelFolderError && /neither model.json/.test(error.message),
      );
    });

    test('refuses a class index whose size differs from the model outputs', async () => {
      for (const file of await readdir(MODEL_DIR))
        if (file !== 'imagenet_class_index.json') await symlink(path.join(MODEL_DIR, file), path.join(dir, file));
      await writeFile(
        path.join(dir, 'imagenet_class_index.json'),
        JSON.stringify({ 0: ['a', 'first'], 1: ['b', 'second'] }),
      );
      for (const engine of ['onnx', 'tfjs-wasm'] as const) {
        await assert.rejects(
          load(engine),
          (error: unknown) =>
            error instanceof ModelFolderError && /1000 outputs but its class index has 2/.test(error.message),
        );
      }
    });

    test('refuses a class index with gaps', async () => {
      await writeFile(
        path.join(dir, 'imagenet_class_index.json'),
        JSON.stringify({ 0: ['a', 'first'], 2: ['b', 'second'] }),
      );
      await assert.rejects(load(), (error: unknown) => error instanceof ModelFolderError && /"1"/.test(error.message));
    });
  });
});
