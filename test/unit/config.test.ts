import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../lib/config.ts';
import { serverOptions } from '../../lib/model/classifier.ts';

describe('loadConfig', () => {
  test('returns the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.engine, 'auto');
    assert.equal(config.modelDir, 'models/mobilenet_v2');
    assert.equal(config.downloadConcurrency, 5);
    assert.equal(config.batchSize, 4);
    assert.equal(config.downloadTimeoutMs, 30_000);
    assert.equal(config.maxImageBytes, 10 * 1024 * 1024);
    assert.equal(config.maxImagePixels, 50_000_000);
    assert.equal(config.maxImagesPerRequest, 32);
    assert.equal(config.maxBodyBytes, 32 * 1024 * 1024);
    assert.equal(config.maxRedirects, 3);
    assert.equal(config.allowPrivateUrls, false);
    assert.equal(config.logLevel, 'INFO');
  });

  test('reads values from the environment and converts TIMEOUT from seconds to ms', () => {
    const config = loadConfig({
      PORT: '9000',
      TIMEOUT: '2',
      THREAD_COUNT: '3',
      ALLOW_PRIVATE_URLS: 'true',
      ENGINE: 'TFJS-WASM',
      LOG_LEVEL: 'debug',
    });
    assert.equal(config.port, 9000);
    assert.equal(config.downloadTimeoutMs, 2000);
    assert.equal(config.downloadConcurrency, 3);
    assert.equal(config.allowPrivateUrls, true);
    assert.equal(config.engine, 'tfjs-wasm');
    assert.equal(config.logLevel, 'DEBUG');
  });

  test('treats empty values as unset', () => {
    assert.equal(loadConfig({ PORT: '', TIMEOUT: '  ' }).port, 8080);
  });

  test('returns a frozen object', () => {
    assert.ok(Object.isFrozen(loadConfig({})));
  });

  test('throws ConfigError naming the variable, the rule and the value received', () => {
    assert.throws(
      () => loadConfig({ TIMEOUT: '0' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /TIMEOUT must be >= 1 \(received "0"\)/);
        return true;
      },
    );
    assert.throws(
      () => loadConfig({ ENGINE: 'gpu' }),
      new RegExp(
        'ENGINE must be equal to one of the allowed values: ' +
          'auto, onnx, tfjs-node, tfjs-wasm, tfjs-cpu \\(received "gpu"\\)',
      ),
    );
    assert.throws(() => loadConfig({ PORT: 'eighty' }), /PORT must be integer \(received "eighty"\)/);
    assert.throws(() => loadConfig({ ALLOW_PRIVATE_URLS: 'maybe' }), /ALLOW_PRIVATE_URLS must be boolean/);
  });

  test('refuses timeouts longer than a Node timer can wait (which would fire at once)', () => {
    for (const name of ['QUEUE_TIMEOUT_MS', 'INFERENCE_TIMEOUT_MS', 'DRAIN_TIMEOUT_MS', 'REQUEST_TIMEOUT_MS']) {
      assert.throws(() => loadConfig({ [name]: '2147483648' }), new RegExp(`${name} must be <= 2147483647`));
      assert.doesNotThrow(() => loadConfig({ [name]: '2147483647' }));
    }
  });

  test('accepts auto or a count for WORKERS and ENGINE_THREADS, and refuses anything else', () => {
    assert.deepEqual([loadConfig({}).workers, loadConfig({}).engineThreads], ['auto', 'auto']);
    assert.deepEqual(
      [loadConfig({ WORKERS: '0', ENGINE_THREADS: '2' }).workers, loadConfig({ ENGINE_THREADS: '2' }).engineThreads],
      [0, 2],
    );
    assert.throws(() => loadConfig({ WORKERS: 'many' }), /WORKERS must be integer or auto \(received "many"\)/);
  });

  test('refuses a queue smaller than the largest request', () => {
    assert.throws(
      () => loadConfig({ MAX_QUEUE_IMAGES: '8', MAX_IMAGES_PER_REQUEST: '16' }),
      /MAX_QUEUE_IMAGES \(8\) must be at least MAX_IMAGES_PER_REQUEST \(16\)/,
    );
  });

  test('reports every bad variable at once', () => {
    assert.throws(() => loadConfig({ PORT: '-1', BATCH_SIZE: '0' }), /PORT must be >= 0.*BATCH_SIZE must be >= 1/);
  });
});

describe('serverOptions', () => {
  test('fits workers and engine threads to the cores', () => {
    const fit = (env: Record<string, string>, cores: number) => {
      const { workers, threads } = serverOptions(loadConfig(env), cores);
      return [workers, threads];
    };
    assert.deepEqual(fit({}, 2), [2, 1]);
    assert.deepEqual(fit({}, 8), [8, 1]);
    assert.deepEqual(fit({ ENGINE_THREADS: '2' }, 8), [4, 2]);
    assert.deepEqual(fit({ WORKERS: '1' }, 4), [1, 4]);
    assert.deepEqual(fit({ WORKERS: '0' }, 4), [0, 4]);
    assert.deepEqual(fit({ ENGINE_THREADS: '4' }, 2), [1, 4]);
  });
});
