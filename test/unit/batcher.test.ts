import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BatchOutput, type BatchPolicy, Batcher, type Schedule } from '../../lib/model/batcher.ts';
import { ServiceError } from '../../lib/errors.ts';

/** A clock the test moves by hand; timers fire when it passes their time. */
function manualClock() {
  let now = 0;
  const timers: Array<{ at: number; callback: () => void; cancelled: boolean }> = [];
  const schedule: Schedule = (callback, delayMs) => {
    const timer = { at: now + delayMs, callback, cancelled: false };
    timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };
  return {
    now: () => now,
    schedule,
    advance(ms: number) {
      now += ms;
      for (const timer of timers.filter((t) => !t.cancelled && t.at <= now).sort((a, b) => a.at - b.at)) {
        timer.cancelled = true;
        timer.callback();
      }
    },
  };
}

/** A runner whose batches finish when the test says, each output being its input times ten. */
function manualRunner(slots: number) {
  const running: Array<{ items: number[]; finish(runMs?: number): void; fail(error: Error): void }> = [];
  const batches: number[][] = [];
  return {
    batches,
    running,
    runner: {
      capacity: () => slots - running.length,
      run(items: number[]) {
        batches.push(items);
        return new Promise<BatchOutput<number>>((resolve, reject) => {
          const entry = {
            items,
            finish: (runMs = 5) => {
              running.splice(running.indexOf(entry), 1);
              resolve({ outputs: items.map((x) => x * 10), runMs });
            },
            fail: (error: Error) => {
              running.splice(running.indexOf(entry), 1);
              reject(error);
            },
          };
          running.push(entry);
        });
      },
    },
  };
}

const policy: BatchPolicy = { maxBatchSize: 4, maxDelayMs: 2, queueTimeoutMs: 1000 };
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Batcher', () => {
  test('starts a full batch at once when MAX_BATCH_SIZE images are waiting', () => {
    const clock = manualClock();
    const { runner, batches } = manualRunner(1);
    const batcher = new Batcher(runner, policy, clock.schedule, clock.now);
    void batcher.submit([1, 2, 3, 4]);
    assert.deepEqual(batches, [[1, 2, 3, 4]]);
  });

  test('holds a lone image no longer than MAX_BATCH_DELAY_MS, then runs it alone', () => {
    const clock = manualClock();
    const { runner, batches } = manualRunner(1);
    const batcher = new Batcher(runner, policy, clock.schedule, clock.now);
    void batcher.submit([1]);
    clock.advance(1);
    assert.deepEqual(batches, []);
    clock.advance(1);
    assert.deepEqual(batches, [[1]]);
  });

  test('with no delay (in-process), runs what is queued at once', () => {
    const clock = manualClock();
    const { runner, batches } = manualRunner(1);
    const batcher = new Batcher(runner, { ...policy, maxDelayMs: 0 }, clock.schedule, clock.now);
    void batcher.submit([1, 2]);
    assert.deepEqual(batches, [[1, 2]]);
  });

  test('batches images of concurrent requests together and gives each request its own outputs, in order', async () => {
    const clock = manualClock();
    const { runner, batches, running } = manualRunner(1);
    const batcher = new Batcher(runner, policy, clock.schedule, clock.now);
    const first = batcher.submit([1, 2]);
    clock.advance(1);
    const second = batcher.submit([3]);
    clock.advance(1);
    assert.deepEqual(batches, [[1, 2, 3]]);
    running[0]!.finish(7);
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual(a, { outputs: [10, 20], queueMs: 2, inferenceMs: 7, batchSizes: [3] });
    assert.deepEqual(b, { outputs: [30], queueMs: 1, inferenceMs: 7, batchSizes: [3] });
  });

  test('splits a request over MAX_BATCH_SIZE and runs no more batches than the runner has room for', async () => {
    const clock = manualClock();
    const { runner, batches, running } = manualRunner(2);
    const batcher = new Batcher(runner, policy, clock.schedule, clock.now);
    const result = batcher.submit([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(batches, [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    assert.equal(batcher.queued, 2);
    running[0]!.finish();
    await settle();
    // A runner freed up, and the rest has waited: it runs without further delay.
    clock.advance(2);
    assert.deepEqual(batches.at(-1), [9, 10]);
    running[0]!.finish();
    running[0]!.finish();
    const { outputs, batchSizes } = await result;
    assert.deepEqual(outputs, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    assert.deepEqual(batchSizes, [4, 4, 2]);
  });

  test('starts the next batch as soon as one finishes when a full batch is waiting', async () => {
    const clock = manualClock();
    const { runner, batches, running } = manualRunner(1);
    const batcher = new Batcher(runner, policy, clock.schedule, clock.now);
    void batcher.submit([1, 2, 3, 4]);
    void batcher.submit([5, 6, 7, 8]);
    assert.equal(batches.length, 1);
    running[0]!.finish();
    await settle();
    assert.deepEqual(batches[1], [5, 6, 7, 8]);
  });

  test('fails a request whose images waited over QUEUE_TIMEOUT_MS with 503, and drops its other images', async () => {
    const clock = manualClock();
    const { runner, batches, running } = manualRunner(1);
    const batcher = new Batcher(runner, { ...policy, queueTimeoutMs: 100 }, clock.schedule, clock.now);
    void batcher.submit([1, 2, 3, 4]); // occupies the only runner
    const waiting = batcher.submit([5, 6]);
    clock.advance(100);
    await assert.rejects(
      waiting,
      (error: unknown) =>
        error instanceof ServiceError && error.code === 'SERVICE_OVERLOADED' && error.retryAfterSeconds === 1,
    );
    assert.equal(batcher.queued, 0);
    running[0]!.finish();
    await settle();
    assert.equal(batches.length, 1, 'the dropped images never ran');
  });

  test('a request whose signal aborts (its deadline) fails with the reason; its queued images leave', async () => {
    const clock = manualClock();
    const { runner, batches, running } = manualRunner(1);
    const batcher = new Batcher(runner, policy, clock.schedule, clock.now);
    const first = batcher.submit([1, 2, 3, 4]); // occupies the only runner
    const controller = new AbortController();
    const waiting = batcher.submit([5, 6], controller.signal);
    const other = batcher.submit([7]);
    const reason = new ServiceError('REQUEST_DEADLINE_EXCEEDED');
    controller.abort(reason);
    await assert.rejects(waiting, (error: unknown) => error === reason);
    assert.equal(batcher.queued, 1, 'only the other request is still waiting');
    running[0]!.finish();
    await settle();
    clock.advance(2);
    running[0]!.finish();
    assert.deepEqual((await first).outputs, [10, 20, 30, 40]);
    assert.deepEqual((await other).outputs, [70]);
    assert.deepEqual(batches, [[1, 2, 3, 4], [7]], 'the abandoned images never ran');
  });

  test('a request whose batch is running when its signal aborts fails at once; the batch serves others', async () => {
    const { runner, running } = manualRunner(1);
    const batcher = new Batcher(runner, { ...policy, maxDelayMs: 0 });
    const controller = new AbortController();
    const abandoned = batcher.submit([1], controller.signal);
    const other = batcher.submit([2]);
    controller.abort(new ServiceError('REQUEST_DEADLINE_EXCEEDED'));
    await assert.rejects(abandoned, (error: unknown) => error instanceof ServiceError);
    running[0]!.finish();
    await settle();
    running[0]!.finish();
    assert.deepEqual((await other).outputs, [20]);
  });

  test('fails every request of a batch whose run fails, and goes on with the next', async () => {
    const clock = manualClock();
    const { runner, running } = manualRunner(1);
    const batcher = new Batcher(runner, policy, clock.schedule, clock.now);
    const a = batcher.submit([1, 2]);
    const b = batcher.submit([3, 4]);
    const c = batcher.submit([5]);
    running[0]!.fail(new Error('worker died'));
    await assert.rejects(a, /worker died/);
    await assert.rejects(b, /worker died/);
    clock.advance(2);
    running[0]!.finish();
    assert.deepEqual((await c).outputs, [50]);
  });

  test('answers an empty request at once', async () => {
    const { runner, batches } = manualRunner(1);
    assert.deepEqual(await new Batcher(runner, policy).submit([]), {
      outputs: [],
      queueMs: 0,
      inferenceMs: 0,
      batchSizes: [],
    });
    assert.deepEqual(batches, []);
  });
});
