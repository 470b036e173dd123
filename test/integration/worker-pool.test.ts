import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../lib/config.ts';
import { ServiceError } from '../../lib/errors.ts';
import { decodeImage } from '../../lib/images/decode.ts';
import { type Classifier, loadClassifier, serverOptions } from '../../lib/model/classifier.ts';
import { type WorkerPool, startWorkerPool } from '../../lib/model/worker-pool.ts';
import { sharedClassifier, silentLogger } from '../helpers/app.ts';
import { MODEL_DIR, readFixture } from '../helpers/fixtures.ts';

const failsWithInferenceFailed = (error: unknown) =>
  error instanceof ServiceError && error.code === 'SERVICE_INFERENCE_FAILED' && error.retryAfterSeconds === 1;

describe('inference on worker threads', () => {
  let cat: Buffer;
  let owl: Buffer;
  before(async () => {
    cat = await decodeImage(await readFixture('cat.bmp'), { width: 224, height: 224 }, { maxPixels: 5e7 });
    owl = await decodeImage(await readFixture('owl.jpg'), { width: 224, height: 224 }, { maxPixels: 5e7 });
  });

  describe('the pooled classifier (WORKERS=2)', () => {
    let pooled: Classifier;
    let inProcess: Classifier;
    before(async () => {
      pooled = await loadClassifier(serverOptions(loadConfig({ MODEL_DIR, WORKERS: '2' })), silentLogger);
      inProcess = await sharedClassifier();
    });
    after(() => pooled.dispose());

    test('runs concurrent requests batched across requests, with the in-process predictions', async () => {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => pooled.classify([i % 2 ? cat : owl])));
      assert.ok(
        results.some((result) => result.batchSizes[0]! > 1),
        `batch sizes: ${results.map((r) => r.batchSizes).join(' ')}`,
      );
      const reference = await inProcess.classify([owl, cat]);
      results.forEach((result, i) => {
        const expected = reference.probabilities[i % 2]!;
        assert.ok(result.probabilities[0]!.every((p, j) => Math.abs(p - expected[j]!) < 1e-5));
      });
    });

    test('runs the workers at a lower priority (nice 5) than the event loop (Linux, /proc)', (t) => {
      if (process.platform !== 'linux') return t.skip('nice values per thread are read from /proc');
      const nice = (task: string) => {
        const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      };
      const values = readdirSync('/proc/self/task').map(nice);
      assert.equal(nice(String(process.pid)), 0, 'the event loop keeps its priority');
      // Each worker thread and the engine thread ONNX Runtime starts from it.
      assert.ok(values.filter((value) => value === 5).length >= 2, `nice values: ${values.join(' ')}`);
    });

    test('counts no TF.js tensors for onnx', async () => {
      assert.equal(await pooled.tensors(), undefined);
    });

    test('reports queue and inference time: a third full batch waits for one of the two workers', async () => {
      const results = await Promise.all(
        [1, 2, 3].map(() => pooled.classify(Array.from({ length: 8 }, (_, i) => (i % 2 ? cat : owl)))),
      );
      assert.deepEqual(
        results.map((result) => result.batchSizes),
        [[8], [8], [8]],
      );
      assert.ok(results.every((result) => result.inferenceMs > 0));
      const [shortest, , longest] = results.map((result) => result.queueMs).sort((a, b) => a - b);
      const fastestBatch = Math.min(...results.map((result) => result.inferenceMs));
      assert.ok(
        longest! >= fastestBatch / 2,
        `queued ${results.map((r) => r.queueMs.toFixed(1))} ms; ` +
          `batches took ${results.map((r) => r.inferenceMs.toFixed(1))} ms`,
      );
      assert.ok(shortest! < longest!);
    });
  });

  test('keeps the main thread free while a batch runs (tfjs-cpu, slow on purpose)', async () => {
    const slow = await loadClassifier(
      serverOptions(loadConfig({ MODEL_DIR, WORKERS: '1', ENGINE: 'tfjs-cpu' })),
      silentLogger,
    );
    try {
      let ticks = 0;
      let running = true;
      const spin = () => {
        ticks++;
        if (running) setImmediate(spin);
      };
      setImmediate(spin);
      const tensorsBefore = await slow.tensors();
      await slow.classify([cat, owl]);
      running = false;
      assert.equal(await slow.tensors(), tensorsBefore, 'no tensor left behind in the worker');
      // On a blocked event loop no tick would run until the batch ends; each one here is a turn of the loop.
      assert.ok(ticks > 100, `${ticks} event-loop turns while the model ran`);
    } finally {
      await slow.dispose();
    }
  });

  describe('faults', () => {
    let pool: WorkerPool;
    const start = (inferenceTimeoutMs: number) =>
      startWorkerPool({
        size: 1,
        worker: { modelDir: MODEL_DIR, engine: 'onnx', threads: 1, logLevel: 'SILENT', serviceName: 'test' },
        inferenceTimeoutMs,
        logger: silentLogger,
      });
    const waitForCapacity = async () => {
      while (pool.capacity() === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    after(() => pool?.close());

    test('a worker that dies mid-batch (terminated by the test) fails its batch with 503 and is replaced', async () => {
      pool = await start(30_000);
      const [original] = pool.workers;
      const running = pool.run([cat, owl, cat, owl, cat, owl, cat, owl]);
      assert.equal(pool.capacity(), 0);
      void original!.terminate();
      await assert.rejects(running, failsWithInferenceFailed);
      await waitForCapacity();
      assert.notEqual(pool.workers[0], original);
      const { outputs } = await pool.run([cat]);
      assert.equal(outputs[0]!.length, 1000);
      await pool.close();
    });

    test('a batch that runs past INFERENCE_TIMEOUT_MS fails with 503 and its worker is replaced', async () => {
      pool = await start(1);
      const [original] = pool.workers;
      await assert.rejects(pool.run([cat, owl, cat, owl, cat, owl, cat, owl]), failsWithInferenceFailed);
      await waitForCapacity();
      assert.notEqual(pool.workers[0], original);
      await pool.close();
    });

    test('a worker that cannot load its model stops the pool from starting', async () => {
      await assert.rejects(
        startWorkerPool({
          size: 1,
          worker: { modelDir: '/nonexistent', engine: 'onnx', threads: 1, logLevel: 'SILENT', serviceName: 'test' },
          inferenceTimeoutMs: 1000,
          logger: silentLogger,
        }),
        /neither model.json/,
      );
    });
  });
});
