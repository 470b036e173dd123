import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../lib/config.ts';
import { createRuntime } from '../../lib/runtime.ts';
import { silentLogger } from '../helpers/app.ts';
import { TINY_ONNX_DIR } from '../helpers/tiny-models.ts';

const config = loadConfig({ MODEL_DIR: TINY_ONNX_DIR });
// A pure red 32x32 RGB image, the tiny model's input size.
const red = () => Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i % 3 === 0 ? 255 : 0));

describe('createRuntime, the composition root', () => {
  test('loads its classifier once, however many callers ask, and disposes it on close', async () => {
    const runtime = createRuntime(config, { logger: silentLogger });
    assert.equal(runtime.classifier(), undefined, 'nothing is loaded before it is asked for');
    const [first, second] = await Promise.all([runtime.loadClassifier(), runtime.loadClassifier()]);
    assert.equal(first, second);
    assert.equal(runtime.classifier(), first);
    assert.equal((await first.classify([red()])).probabilities.length, 1);
    await runtime.close();
    await assert.rejects(first.classify([red()]));
  });

  test('close waits for a load in progress, then disposes what it loaded', async () => {
    const runtime = createRuntime(config, { logger: silentLogger });
    const loading = runtime.loadClassifier();
    await runtime.close();
    await assert.rejects((await loading).classify([red()]));
  });

  test('uses a shared classifier without disposing it', async () => {
    const owner = createRuntime(config, { logger: silentLogger });
    const shared = await owner.loadClassifier();
    const borrower = createRuntime(config, { logger: silentLogger, sharedClassifier: shared });
    assert.equal(borrower.classifier(), shared);
    await borrower.close();
    assert.equal((await shared.classify([red()])).probabilities.length, 1);
    await owner.close();
  });

  test('a model that cannot be loaded rejects loadClassifier, and close still succeeds', async () => {
    const runtime = createRuntime(loadConfig({ MODEL_DIR: '/nonexistent-model-folder' }), { logger: silentLogger });
    await assert.rejects(runtime.loadClassifier());
    assert.equal(runtime.classifier(), undefined);
    await runtime.close();
  });
});
