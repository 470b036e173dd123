import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { decodeImage } from '../../lib/images/decode.ts';
import { type Classifier, loadClassifier } from '../../lib/model/classifier.ts';
import { ModelFolderError } from '../../lib/model/model-folder.ts';
import { topPredictions } from '../../lib/model/predictions.ts';
import { sharedClassifier, silentLogger } from '../helpers/app.ts';
import { MODEL_DIR, expected, fixtureNames, readFixture } from '../helpers/fixtures.ts';

async function tfjsNodeLoads(): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-node' as string);
    return true;
  } catch {
    return false;
  }
}

describe('classifier (TF.js engines)', () => {
  let classifier: Classifier;
  const pixels = new Map<string, Buffer>();

  before(async () => {
    classifier = await sharedClassifier('auto');
    for (const name of fixtureNames) pixels.set(name, await decodeImage(await readFixture(name), classifier.info.input, { maxPixels: 5e7 }));
  });

  test('auto picks tfjs-node when it loads, else tfjs-wasm, never tfjs-cpu', async () => {
    assert.equal(classifier.info.engine, (await tfjsNodeLoads()) ? 'tfjs-node' : 'tfjs-wasm');
  });

  test('reports the model read from the folder', () => {
    assert.deepEqual({ ...classifier.info, engine: undefined }, { name: 'mobilenet_v2', engine: undefined, input: { width: 224, height: 224, channels: 3 }, classes: 1000 });
    assert.deepEqual(classifier.labels[285], { category: 'n02124075', name: 'Egyptian_cat' });
  });

  test('predicts every fixture within 0.02 of the reference, with an acceptable top-1', async () => {
    const { probabilities: results } = await classifier.classify(fixtureNames.map((name) => pixels.get(name)!));
    fixtureNames.forEach((name, i) => {
      const [top] = topPredictions(results[i]!, classifier.labels, 1);
      assert.ok(expected[name]!.acceptable_top1_wnids.includes(top!.category), `${name}: ${top!.category} ${top!.name}`);
      assert.ok(Math.abs(top!.score - expected[name]!.top1.prob) <= 0.02, `${name}: ${top!.score} vs ${expected[name]!.top1.prob}`);
    });
  });

  test('gives the same probabilities for an image alone and inside a batch larger than BATCH_SIZE', async () => {
    const { probabilities: batch, batchSizes } = await classifier.classify(fixtureNames.map((name) => pixels.get(name)!));
    assert.deepEqual(batchSizes, [4, 4, 2]);
    for (const [i, name] of fixtureNames.entries()) {
      const {
        probabilities: [alone],
      } = await classifier.classify([pixels.get(name)!]);
      const maxDifference = Math.max(...alone!.map((p, j) => Math.abs(p - batch[i]![j]!)));
      assert.ok(maxDifference < 1e-4, `${name}: ${maxDifference}`);
    }
  });

  test('leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    await classifier.classify([pixels.get('cat.bmp')!, pixels.get('owl.jpg')!]);
    assert.equal(tf.memory().numTensors, before);
  });

  describe('model folders', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'model-'));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    test('refuses a folder without a model', async () => {
      await assert.rejects(loadClassifier({ modelDir: dir, engine: 'auto', batchSize: 4 }, silentLogger), (error: unknown) => error instanceof ModelFolderError && /neither model.json/.test(error.message));
    });

    test('refuses a class index whose size differs from the model outputs', async () => {
      for (const file of await readdir(MODEL_DIR)) if (file === 'model.json' || file.endsWith('.bin')) await symlink(path.join(MODEL_DIR, file), path.join(dir, file));
      await writeFile(path.join(dir, 'imagenet_class_index.json'), JSON.stringify({ 0: ['a', 'first'], 1: ['b', 'second'] }));
      await assert.rejects(loadClassifier({ modelDir: dir, engine: 'auto', batchSize: 4 }, silentLogger), (error: unknown) => error instanceof ModelFolderError && /1000 outputs but its class index has 2/.test(error.message));
    });

    test('refuses a class index with gaps', async () => {
      await writeFile(path.join(dir, 'imagenet_class_index.json'), JSON.stringify({ 0: ['a', 'first'], 2: ['b', 'second'] }));
      await assert.rejects(loadClassifier({ modelDir: dir, engine: 'auto', batchSize: 4 }, silentLogger), (error: unknown) => error instanceof ModelFolderError && /"1"/.test(error.message));
    });
  });
});
