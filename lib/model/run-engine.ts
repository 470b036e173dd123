/** Decoded images in, class probabilities out: the model's input encoding, the engine, and softmax for logits. */
import type { Engine } from './engines/engine.ts';
import { softmaxRows, toInputBatch } from './model-spec.ts';

export async function runEngine(engine: Engine, images: ReadonlyArray<Uint8Array>): Promise<Float32Array> {
  const output = await engine.run(toInputBatch(images, engine.input), images.length);
  return engine.output === 'logits' ? softmaxRows(output, engine.classes) : output;
}

/** One engine output for `count` images -> one view per image. */
export function splitPerImage(output: Float32Array, count: number): Float32Array[] {
  const classes = output.length / count;
  return Array.from({ length: count }, (_, i) => output.subarray(i * classes, (i + 1) * classes));
}
