/**
 * A fixed number of inference worker threads, each with its own engine, running one batch at a
 * time. A worker that dies, or runs a batch longer than INFERENCE_TIMEOUT_MS, is replaced, and the
 * requests of its batch fail with 503 SERVICE_INFERENCE_FAILED instead of hanging.
 */
import { Worker } from 'node:worker_threads';
import { RETRY_AFTER_SECONDS, ServiceError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Classifier } from './classifier.ts';
import type { BatchOutput, BatchRunner } from './batcher.ts';
import type { EngineSummary } from './engines/engine.ts';
import type { FromWorker, ToWorker, WorkerOptions } from './inference-worker.ts';
import { splitPerImage } from './run-engine.ts';
import { FROM_SOURCES, INFERENCE_WORKER } from '../layout.ts';

export interface WorkerPool extends BatchRunner<Uint8Array, Float32Array> {
  readonly engine: EngineSummary;
  /** The live worker threads (for diagnostics and fault-injection tests). */
  readonly workers: ReadonlyArray<Worker>;
  /** Called whenever a worker becomes free to take a batch. */
  onCapacity(listener: () => void): void;
  /** Live tensors summed over the workers. */
  tensors: Classifier['tensors'];
  close(): Promise<void>;
}

export interface WorkerPoolOptions {
  size: number;
  worker: WorkerOptions;
  inferenceTimeoutMs: number;
  logger: Logger;
}

interface Job {
  id: number;
  resolve(output: BatchOutput<Float32Array>): void;
  reject(error: unknown): void;
  cancelWatchdog(): void;
  count: number;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job: Job | undefined;
  statsRequests: Map<number, (tensors: number | undefined) => void>;
}

const RESTART_DELAY_MS = 1000;

/**
 * The bundle (dist/) starts the bundled worker beside it. Sources run under tsx (tests, `npm run
 * dev`) start the TypeScript worker through tsx's API: Node 20 applies no --import hook to a
 * worker's entry file.
 */
function spawnWorker(workerData: WorkerOptions): Worker {
  if (!FROM_SOURCES) return new Worker(INFERENCE_WORKER, { workerData });
  const load = `import(${JSON.stringify(INFERENCE_WORKER.href)})`;
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return ${load}; })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

export async function startWorkerPool(options: WorkerPoolOptions): Promise<WorkerPool> {
  const { logger } = options;
  const slots: Slot[] = [];
  const listeners: Array<() => void> = [];
  let closing = false;
  let nextJobId = 0;
  let engine: EngineSummary | undefined;
  const notify = () => {
    for (const listener of listeners) listener();
  };

  const start = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const slot: Slot = {
        worker: spawnWorker(options.worker),
        ready: false,
        job: undefined,
        statsRequests: new Map(),
      };
      slots.push(slot);
      slot.worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          slot.ready = true;
          engine ??= message.engine;
          resolve();
          notify();
          return;
        }
        if (message.type === 'stats') {
          slot.statsRequests.get(message.id)?.(message.tensors);
          slot.statsRequests.delete(message.id);
          return;
        }
        const job = slot.job;
        if (!job || job.id !== message.id) return;
        slot.job = undefined;
        job.cancelWatchdog();
        if (message.type === 'result')
          job.resolve({
            outputs: splitPerImage(new Float32Array(message.probabilities), job.count),
            runMs: message.runMs,
          });
        else job.reject(new Error(`inference failed: ${message.message}`));
        notify();
      });
      slot.worker.on('error', (error) => {
        // Before it is ready, the error is the start-up's to report (the model folder, usually).
        if (!slot.ready) reject(error);
        else logger.error('Inference worker failed', error);
      });
      slot.worker.on('exit', (code) => {
        slots.splice(slots.indexOf(slot), 1);
        const job = slot.job;
        slot.job = undefined;
        job?.cancelWatchdog();
        job?.reject(
          new ServiceError('SERVICE_INFERENCE_FAILED', undefined, {
            retryAfterSeconds: RETRY_AFTER_SECONDS,
            cause: new Error(`worker exited with code ${code}`),
          }),
        );
        for (const answer of slot.statsRequests.values()) answer(undefined);
        if (!slot.ready) reject(new Error(`the inference worker exited with code ${code} before it was ready`));
        if (closing || !slot.ready) return;
        logger.warn('Inference worker exited; starting a replacement', { exitCode: code, busy: job !== undefined });
        const replace = () =>
          start().catch((error: unknown) => {
            logger.error('Replacement inference worker failed to start; retrying', error as Error);
            if (!closing) setTimeout(replace, RESTART_DELAY_MS).unref();
          });
        replace();
      });
    });

  try {
    await Promise.all(Array.from({ length: options.size }, start));
  } catch (error) {
    closing = true;
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
    throw error;
  }

  return {
    engine: engine!,
    get workers() {
      return slots.map((slot) => slot.worker);
    },
    capacity: () => slots.filter((slot) => slot.ready && !slot.job).length,
    run(items) {
      const slot = slots.find((s) => s.ready && !s.job);
      if (!slot) return Promise.reject(new Error('no idle inference worker'));
      return new Promise((resolve, reject) => {
        const watchdog = setTimeout(() => {
          logger.error('Inference batch exceeded its time limit; replacing the worker', {
            inferenceTimeoutMs: options.inferenceTimeoutMs,
            images: items.length,
          });
          void slot.worker.terminate();
        }, options.inferenceTimeoutMs);
        slot.job = {
          id: nextJobId++,
          resolve,
          reject,
          count: items.length,
          cancelWatchdog: () => clearTimeout(watchdog),
        };
        const message: ToWorker = { type: 'run', id: slot.job.id, pixels: concat(items), count: items.length };
        slot.worker.postMessage(message, [message.pixels]);
      });
    },
    onCapacity(listener) {
      listeners.push(listener);
    },
    async tensors() {
      const counts = await Promise.all(
        slots.map((slot) => {
          const id = nextJobId++;
          return new Promise<number | undefined>((resolve) => {
            slot.statsRequests.set(id, resolve);
            slot.worker.postMessage({ type: 'stats', id } satisfies ToWorker);
          });
        }),
      );
      return counts.some((count) => count === undefined)
        ? undefined
        : counts.reduce<number>((sum, count) => sum + (count ?? 0), 0);
    },
    async close() {
      closing = true;
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}

/** The images of a batch in one transferable buffer. */
function concat(images: Uint8Array[]): ArrayBuffer {
  const size = images[0]?.length ?? 0;
  const buffer = new Uint8Array(size * images.length);
  for (const [i, image] of images.entries()) buffer.set(image, i * size);
  return buffer.buffer;
}
