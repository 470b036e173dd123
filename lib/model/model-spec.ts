/**
 * How a model wants its input and gives its output, from the model folder's optional
 * model.config.json (defaults: MobileNetV2's contract). This is what lets another model serve
 * without code changes: a PyTorch export takes NCHW, ImageNet mean/std and gives logits; a Keras
 * model takes NHWC scaled to [-1, 1] and gives probabilities.
 *
 *   { "input": { "width": 224, "height": 224, "layout": "NHWC", "channelOrder": "RGB",
 *                "normalize": { "scale": 127.5, "mean": [1, 1, 1], "std": [1, 1, 1] } },
 *     "output": "probabilities" }
 *
 * A pixel value x in 0..255 becomes (x / scale - mean[c]) / std[c]: MobileNetV2's x / 127.5 - 1
 * is scale 127.5, mean 1, std 1; torchvision's is scale 255 with the ImageNet mean and std.
 */
import { Ajv } from 'ajv';

export interface InputSpec {
  /** Pixels per side the model takes; from the config, else from the model. */
  width: number;
  height: number;
  channels: 3;
  layout: 'NHWC' | 'NCHW';
  channelOrder: 'RGB' | 'BGR';
  normalize: { scale: number; mean: [number, number, number]; std: [number, number, number] };
}

export interface ModelConfig {
  input: Partial<Pick<InputSpec, 'width' | 'height'>> & Omit<InputSpec, 'width' | 'height' | 'channels'>;
  output: 'probabilities' | 'logits';
}

export const MODEL_CONFIG_FILE = 'model.config.json';

const triple = { type: 'array', items: { type: 'number' }, minItems: 3, maxItems: 3 } as const;
const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    input: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        width: { type: 'integer', minimum: 1, maximum: 4096 },
        height: { type: 'integer', minimum: 1, maximum: 4096 },
        layout: { enum: ['NHWC', 'NCHW'], default: 'NHWC' },
        channelOrder: { enum: ['RGB', 'BGR'], default: 'RGB' },
        normalize: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            scale: { type: 'number', exclusiveMinimum: 0, default: 127.5 },
            mean: { ...triple, default: [1, 1, 1] },
            std: { ...triple, items: { type: 'number', exclusiveMinimum: 0 }, default: [1, 1, 1] },
          },
        },
      },
    },
    output: { enum: ['probabilities', 'logits'], default: 'probabilities' },
  },
} as const;

const validate = new Ajv({ useDefaults: true, allErrors: true }).compile(schema);

/** The folder's model.config.json (or `{}` when it has none), with defaults; throws a message naming each bad field. */
export function parseModelConfig(json: unknown): ModelConfig {
  const config = structuredClone(json ?? {});
  if (!validate(config)) {
    const problems = (validate.errors ?? []).map((error) => {
      const field = error.instancePath.slice(1).replace(/\//g, '.') || '(the file)';
      const allowed =
        error.params && 'allowedValues' in error.params
          ? ` (${(error.params.allowedValues as string[]).join(', ')})`
          : '';
      const extra = error.keyword === 'additionalProperties' ? `: ${error.params.additionalProperty}` : '';
      return `${field} ${error.message}${allowed}${extra}`;
    });
    throw new Error(`${MODEL_CONFIG_FILE}: ${problems.join('; ')}`);
  }
  return config as ModelConfig;
}

/**
 * 8-bit RGB pixels (HWC, as decoded) -> the model's float input batch. One sequential pass per
 * image: this runs for every image the service classifies.
 */
export function toInputBatch(images: ReadonlyArray<Uint8Array>, input: InputSpec): Float32Array {
  const { width, height, layout, channelOrder, normalize } = input;
  const plane = width * height;
  const size = plane * 3;
  const batch = new Float32Array(images.length * size);
  // Output channel c reads source channel s[c] and becomes value * g[c] + o[c].
  const [s0, s1, s2] = channelOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const [g0, g1, g2] = [0, 1, 2].map((c) => 1 / (normalize.scale * normalize.std[c]!)) as [number, number, number];
  const [o0, o1, o2] = [0, 1, 2].map((c) => -normalize.mean[c]! / normalize.std[c]!) as [number, number, number];
  // Where channel c of pixel p goes: NHWC interleaves (p * 3 + c), NCHW has a plane per channel.
  const [pixelStep, channelStep] = layout === 'NHWC' ? [3, 1] : [1, plane];
  // The usual case (MobileNetV2's): the values keep their order and share one scale, so a flat
  // loop does it, about a third faster.
  const flat = layout === 'NHWC' && channelOrder === 'RGB' && g0 === g1 && g1 === g2 && o0 === o1 && o1 === o2;
  images.forEach((pixels, i) => {
    if (pixels.length !== size) throw new Error(`image ${i} has ${pixels.length} values, the model takes ${size}`);
    if (flat) {
      const out = batch.subarray(i * size, (i + 1) * size);
      for (let j = 0; j < size; j++) out[j] = pixels[j]! * g0 + o0;
      return;
    }
    for (let p = 0, src = 0, dst = i * size; p < plane; p++, src += 3, dst += pixelStep) {
      batch[dst] = pixels[src + s0]! * g0 + o0;
      batch[dst + channelStep] = pixels[src + s1]! * g1 + o1;
      batch[dst + 2 * channelStep] = pixels[src + s2]! * g2 + o2;
    }
  });
  return batch;
}

/** Softmax of each image's logits, in place. */
export function softmaxRows(values: Float32Array, classes: number): Float32Array {
  for (let start = 0; start < values.length; start += classes) {
    let max = -Infinity;
    for (let i = start; i < start + classes; i++) max = Math.max(max, values[i]!);
    let sum = 0;
    for (let i = start; i < start + classes; i++) sum += values[i] = Math.exp(values[i]! - max);
    for (let i = start; i < start + classes; i++) values[i]! /= sum;
  }
  return values;
}

/** The tensor shape of `count` images in the model's layout. */
export function inputDims(input: InputSpec, count: number): [number, number, number, number] {
  return input.layout === 'NHWC' ? [count, input.height, input.width, 3] : [count, 3, input.height, input.width];
}

/**
 * The input spec from the model's own input shape (batch first, in the configured layout; a
 * dimension may be unknown) and the config: the config fills in what the model leaves open, and
 * must agree with what it fixes.
 */
export function resolveInput(
  shape: ReadonlyArray<number | string | null>,
  config: ModelConfig,
  file: string,
): InputSpec {
  const { layout } = config.input;
  if (shape.length !== 4)
    throw new Error(`${file}: expected an image input of rank 4 (${layout}), got ${JSON.stringify(shape)}.`);
  const known = (value: number | string | null | undefined) =>
    typeof value === 'number' && value > 0 ? value : undefined;
  const [height, width, channels] = layout === 'NHWC' ? [shape[1], shape[2], shape[3]] : [shape[2], shape[3], shape[1]];
  if (known(channels) !== undefined && channels !== 3) {
    throw new Error(
      `${file}: the model takes ${channels} channels in ${layout} layout; only 3 (RGB or BGR) are supported. ` +
        `Is "layout" in ${MODEL_CONFIG_FILE} right?`,
    );
  }
  const sides = { width: known(width), height: known(height) };
  for (const name of ['width', 'height'] as const) {
    const fromConfig = config.input[name];
    if (sides[name] !== undefined && fromConfig !== undefined && sides[name] !== fromConfig) {
      throw new Error(
        `${file}: the model's input ${name} is ${sides[name]} but ${MODEL_CONFIG_FILE} says ${fromConfig}.`,
      );
    }
    sides[name] ??= fromConfig;
  }
  const open = (['width', 'height'] as const).filter((name) => sides[name] === undefined);
  if (open.length)
    throw new Error(
      `${file}: the model does not fix its input ${open.join(' and ')}; ` +
        `set ${open.map((name) => `input.${name}`).join(' and ')} in ${MODEL_CONFIG_FILE}.`,
    );
  return { ...config.input, width: sides.width!, height: sides.height!, channels: 3 };
}
