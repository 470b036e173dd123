/**
 * One inference worker thread: loads its own engine (session, threads) and runs the batches the
 * pool sends it, so the server's event loop only does I/O. Pixels arrive as one transferred
 * buffer of `count` RGB images; probabilities go back the same way.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { EngineChoice, LogLevel } from '../config.ts';
import { createLogger } from '../logger.ts';
import type { EngineSummary } from './engines/engine.ts';
import { loadEngine } from './engines/load-engine.ts';
import { readModelFolder } from './model-folder.ts';
import { runEngine } from './run-engine.ts';

export interface WorkerOptions {
  modelDir: string;
  engine: EngineChoice;
  threads: number;
  logLevel: LogLevel;
  serviceName: string;
}

export type ToWorker = { type: 'run'; id: number; pixels: ArrayBuffer; count: number } | { type: 'stats'; id: number };

export type FromWorker =
  | { type: 'ready'; engine: EngineSummary }
  | { type: 'result'; id: number; probabilities: ArrayBuffer; runMs: number }
  | { type: 'error'; id: number; message: string }
  | { type: 'stats'; id: number; tensors: number | undefined };

const options = workerData as WorkerOptions;
const port = parentPort!;
// On Linux a nice value is per thread: this lowers only this worker (and the engine threads it
// starts), so the event loop, which admits, refuses and answers requests, runs first.
try {
  setPriority(5);
} catch {
  // Not allowed here (some sandboxes): inference then shares the cores evenly.
}
const engine = await loadEngine(
  options.engine,
  await readModelFolder(options.modelDir),
  { threads: options.threads },
  createLogger(options),
);
const imageSize = engine.input.width * engine.input.height * engine.input.channels;

port.on('message', async (message: ToWorker) => {
  if (message.type === 'stats') {
    port.postMessage({ type: 'stats', id: message.id, tensors: engine.tensors?.() } satisfies FromWorker);
    return;
  }
  const started = performance.now();
  try {
    const pixels = new Uint8Array(message.pixels);
    const images = Array.from({ length: message.count }, (_, i) => pixels.subarray(i * imageSize, (i + 1) * imageSize));
    const output = await runEngine(engine, images);
    const probabilities =
      output.byteOffset === 0 && output.byteLength === output.buffer.byteLength ? output.buffer : output.slice().buffer;
    const reply: FromWorker = {
      type: 'result',
      id: message.id,
      probabilities: probabilities as ArrayBuffer,
      runMs: performance.now() - started,
    };
    port.postMessage(reply, [probabilities as ArrayBuffer]);
  } catch (error) {
    port.postMessage({ type: 'error', id: message.id, message: (error as Error).message } satisfies FromWorker);
  }
});

const { width, height, channels } = engine.input;
port.postMessage({
  type: 'ready',
  engine: { name: engine.name, input: { width, height, channels }, classes: engine.classes, details: engine.details },
} satisfies FromWorker);
