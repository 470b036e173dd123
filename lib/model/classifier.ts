/**
 * The classifier: a model folder served by one engine, behind the batcher. The engine runs either
 * in this thread (Lambda, the CLI, `WORKERS=0`: one event at a time, no added latency) or in a pool
 * of worker threads (the HTTP server), and either way images are run in batches: BATCH_SIZE
 * in-process, MAX_BATCH_SIZE images from concurrent requests in the server.
 */
import os from 'node:os';
import type { Config, EngineChoice } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { ModelInfo } from '../schemas.ts';
import { type BatchPolicy, type BatchRunner, Batcher } from './batcher.ts';
import type { Engine, EngineSummary } from './engines/engine.ts';
import { loadEngine } from './engines/load-engine.ts';
import { runEngine, splitPerImage } from './run-engine.ts';
import { type Label, ModelFolderError, readModelFolder } from './model-folder.ts';
import { startWorkerPool } from './worker-pool.ts';

/** What GET /v1/models answers; `input` is the size images are decoded to. */
export type { ModelInfo };

export interface ClassifyResult {
  probabilities: Float32Array[];
  /** Size of each model call that ran these images. */
  batchSizes: number[];
  /** Longest wait of these images for a free engine. */
  queueMs: number;
  /** Time the model calls took. */
  inferenceMs: number;
}

export interface Classifier {
  readonly info: ModelInfo;
  readonly labels: ReadonlyArray<Label>;
  /** Class probabilities for each image, given as RGB pixels at the model's input size. */
  classify(images: ReadonlyArray<Uint8Array>, signal?: AbortSignal): Promise<ClassifyResult>;
  /** Live TF.js tensors (all workers), undefined for engines that do not count them. */
  tensors(): Promise<number | undefined>;
  /** Images waiting for the model (the batcher's queue), for the metrics; test fakes may leave it out. */
  queued?(): number;
  dispose(): Promise<void>;
}

export interface ClassifierOptions {
  modelDir: string;
  engine: EngineChoice;
  /** Worker threads; 0 runs the engine in this thread. */
  workers: number;
  /** Threads of each engine. */
  threads: number;
  batch: BatchPolicy;
  inferenceTimeoutMs: number;
}

/** Options for one request at a time in this thread: Lambda, the CLI. */
export function inProcessOptions(config: Config): ClassifierOptions {
  return {
    modelDir: config.modelDir,
    engine: config.engine,
    workers: 0,
    threads: config.engineThreads === 'auto' ? os.availableParallelism() : config.engineThreads,
    // One caller at a time: its own batches are all it waits for.
    batch: { maxBatchSize: config.batchSize, maxDelayMs: 0, queueTimeoutMs: Number.POSITIVE_INFINITY },
    inferenceTimeoutMs: config.inferenceTimeoutMs,
  };
}

/** Options for the HTTP server: workers and threads fitted to the cores, batching across requests. */
export function serverOptions(config: Config, cores = os.availableParallelism()): ClassifierOptions {
  const threadsWanted = config.engineThreads === 'auto' ? undefined : config.engineThreads;
  const workers = config.workers === 'auto' ? Math.max(1, Math.floor(cores / (threadsWanted ?? 1))) : config.workers;
  const threads = threadsWanted ?? (workers === 0 ? cores : Math.max(1, Math.floor(cores / workers)));
  return {
    modelDir: config.modelDir,
    engine: config.engine,
    workers,
    threads,
    batch: {
      maxBatchSize: config.maxBatchSize,
      maxDelayMs: config.maxBatchDelayMs,
      queueTimeoutMs: config.queueTimeoutMs,
    },
    inferenceTimeoutMs: config.inferenceTimeoutMs,
  };
}

export async function loadClassifier(options: ClassifierOptions, logger: Logger): Promise<Classifier> {
  const started = performance.now();
  const folder = await readModelFolder(options.modelDir);
  const runner =
    options.workers === 0
      ? engineRunner(await loadEngine(options.engine, folder, options, logger))
      : await poolRunner(options, folder.dir, logger);
  const { engine } = runner;
  if (engine.classes !== folder.labels.length) {
    await runner.dispose();
    throw new ModelFolderError(
      `The model in ${folder.dir} has ${engine.classes} outputs ` +
        `but its class index has ${folder.labels.length} classes.`,
    );
  }
  const { width, height, channels } = engine.input;
  const info: ModelInfo = {
    name: folder.name,
    engine: engine.name,
    input: { width, height, channels },
    classes: engine.classes,
  };
  logger.info('Model loaded', {
    model: info,
    engine: engine.details,
    config: folder.config,
    workers: options.workers,
    batch: options.batch,
    loadMs: Math.round(performance.now() - started),
  });

  const batcher = new Batcher(runner, options.batch);
  runner.onCapacity(() => batcher.pump());
  return {
    info,
    labels: folder.labels,
    async classify(images, signal) {
      const { outputs, batchSizes, queueMs, inferenceMs } = await batcher.submit([...images], signal);
      return { probabilities: outputs, batchSizes, queueMs, inferenceMs };
    },
    tensors: () => runner.tensors(),
    queued: () => batcher.queued,
    dispose: () => runner.dispose(),
  };
}

interface Runner extends BatchRunner<Uint8Array, Float32Array> {
  engine: EngineSummary;
  onCapacity(listener: () => void): void;
  tensors(): Promise<number | undefined>;
  dispose(): Promise<void>;
}

/** The engine in this thread, one batch at a time (the batcher pumps again when it finishes). */
function engineRunner(engine: Engine): Runner {
  let busy = false;
  return {
    engine,
    capacity: () => (busy ? 0 : 1),
    async run(items) {
      busy = true;
      const started = performance.now();
      try {
        return {
          outputs: splitPerImage(await runEngine(engine, items), items.length),
          runMs: performance.now() - started,
        };
      } finally {
        busy = false;
      }
    },
    onCapacity() {},
    tensors: async () => engine.tensors?.(),
    dispose: () => engine.dispose(),
  };
}

async function poolRunner(options: ClassifierOptions, modelDir: string, logger: Logger): Promise<Runner> {
  const pool = await startWorkerPool({
    size: options.workers,
    worker: {
      modelDir,
      engine: options.engine,
      threads: options.threads,
      logLevel: logger.getLevelName(),
      serviceName: 'inference-worker',
    },
    inferenceTimeoutMs: options.inferenceTimeoutMs,
    logger,
  });
  return { ...pool, dispose: () => pool.close() };
}
