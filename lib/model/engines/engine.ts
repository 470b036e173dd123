/**
 * The one interface every inference engine implements. An engine is returned by its loader already
 * loaded and warmed up; `run` takes a batch of images already converted to the model's input
 * tensor and returns the class probabilities.
 */

export const ENGINE_NAMES = ['onnx', 'tfjs-node', 'tfjs-wasm', 'tfjs-cpu'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export interface InputShape {
  width: number;
  height: number;
  channels: number;
}

export interface Engine {
  readonly name: EngineName;
  /** The input the network expects, read from the model. */
  readonly input: InputShape;
  /** Number of outputs per image. */
  readonly classes: number;
  /** How the engine runs (SIMD, threads, ...), for the start-up log. */
  readonly details: Record<string, string | number | boolean>;
  /** Class probabilities, `count * classes` values, for `count` images packed NHWC in `batch`. */
  run(batch: Float32Array, count: number): Promise<Float32Array>;
  /** Live tensors, for engines that count them (TF.js); a leak shows as a growing number. */
  tensors?(): number;
  dispose(): Promise<void>;
}

/** The engine cannot run here (package not installed, native library missing, model format absent). */
export class EngineUnavailableError extends Error {
  override readonly name = 'EngineUnavailableError';
}
