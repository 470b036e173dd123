/**
 * The one interface every inference engine implements. An engine is returned by its loader already
 * loaded and warmed up; `run` takes a batch of images already converted to the model's input
 * tensor (model-spec.ts) and returns the model's outputs: probabilities, or logits when the model
 * config says so.
 */
import type { InputSpec, ModelConfig } from '../model-spec.ts';

export const ENGINE_NAMES = ['onnx', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export interface Engine {
  readonly name: EngineName;
  /** The input the network expects: its size from the model (or its config), its encoding from the config. */
  readonly input: InputSpec;
  readonly output: ModelConfig['output'];
  /** Number of outputs per image. */
  readonly classes: number;
  /** How the engine runs (SIMD, threads, ...), for the start-up log. */
  readonly details: Record<string, string | number | boolean>;
  /** `count * classes` output values for `count` images packed in the model's layout in `batch`. */
  run(batch: Float32Array, count: number): Promise<Float32Array>;
  /** Live tensors, for engines that count them (TF.js); a leak shows as a growing number. */
  tensors?(): number;
  dispose(): Promise<void>;
}

/** What the rest of the service knows of a loaded engine, wherever it runs (this thread or a worker). */
export type EngineSummary = Pick<Engine, 'name' | 'classes' | 'details'> & {
  input: Pick<InputSpec, 'width' | 'height' | 'channels'>;
};

/** The engine cannot run here (package not installed, native library missing, model format absent). */
export class EngineUnavailableError extends Error {
  override readonly name = 'EngineUnavailableError';
}

type RunBatch = Engine['run'];

/**
 * Runs a batch `sliceSize` images at a time. Engines whose working memory grows to fit the largest
 * batch ever run, and never shrinks, stay small this way, at no cost in speed where the slice
 * already keeps the cores busy.
 */
export function runInSlices(runSlice: RunBatch, sliceSize: number, imageSize: number, classes: number): RunBatch {
  return async (batch, count) => {
    if (count <= sliceSize) return runSlice(batch, count);
    const output = new Float32Array(count * classes);
    for (let start = 0; start < count; start += sliceSize) {
      const size = Math.min(sliceSize, count - start);
      output.set(await runSlice(batch.slice(start * imageSize, (start + size) * imageSize), size), start * classes);
    }
    return output;
  };
}
