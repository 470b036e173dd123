/**
 * 8-bit RGB pixels -> the model's float input: NHWC, scaled to [-1, 1] with x / 127.5 - 1, the same
 * as keras.applications.mobilenet_v2.preprocess_input.
 */
import type { InputShape } from './engines/engine.ts';

export function toInputBatch(images: ReadonlyArray<Uint8Array>, input: InputShape): Float32Array {
  const size = input.width * input.height * input.channels;
  const batch = new Float32Array(images.length * size);
  images.forEach((pixels, i) => {
    if (pixels.length !== size) throw new Error(`image ${i} has ${pixels.length} values, the model takes ${size}`);
    const offset = i * size;
    for (let j = 0; j < size; j++) batch[offset + j] = pixels[j]! / 127.5 - 1;
  });
  return batch;
}
