/**
 * Tiny "red or blue" models for the bring-your-own-model tests, each a different kind of folder:
 * average the image's channels, then logit(red) = mean red - mean blue and logit(blue) the
 * opposite. With MobileNetV2's default input scaling (x / 127.5 - 1), a pure red image gives
 * logits [2, -2], so p(red) = e^2 / (e^2 + e^-2) = 0.9820 exactly. The ONNX one is committed
 * (test/fixtures/models/tiny-onnx-nchw, written by scripts/make-tiny-onnx.py).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { FIXTURES_DIR } from './fixtures.ts';

export const TINY_ONNX_DIR = path.join(FIXTURES_DIR, 'models', 'tiny-onnx-nchw');
const WEIGHTS = [
  [1, -1],
  [0, 0],
  [-1, 1],
];
const CLASS_INDEX = JSON.stringify({ 0: ['red', 'red'], 1: ['blue', 'blue'] });

/** A Keras-style layers-model: GlobalAveragePooling2D, then Dense(2, softmax). */
export async function writeTinyLayersModel(dir: string, config?: object): Promise<void> {
  await mkdir(dir, { recursive: true });
  const model = tf.sequential({
    layers: [
      tf.layers.globalAveragePooling2d({ inputShape: [32, 32, 3] }),
      tf.layers.dense({ units: 2, activation: 'softmax', useBias: false }),
    ],
  });
  model.layers[1]!.setWeights([tf.tensor2d(WEIGHTS)]);
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const modelJson = {
        format: 'layers-model',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      await writeFile(path.join(dir, 'model.json'), JSON.stringify(modelJson));
      await writeFile(path.join(dir, 'weights.bin'), Buffer.from(artifacts.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  await writeFile(path.join(dir, 'class_index.json'), CLASS_INDEX);
  if (config) await writeFile(path.join(dir, 'model.config.json'), JSON.stringify(config));
}

/** A graph-model, as tensorflowjs_converter writes one from a SavedModel: Mean over H and W, MatMul, Softmax. */
export async function writeTinyGraphModel(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const float = { type: 'DT_FLOAT' };
  const dims = (...sizes: number[]) => ({ dim: sizes.map((size) => ({ size: String(size) })) });
  const modelJson = {
    format: 'graph-model',
    generatedBy: 'test/helpers/tiny-models.ts',
    convertedBy: 'hand',
    modelTopology: {
      node: [
        { name: 'pixels', op: 'Placeholder', attr: { dtype: float, shape: { shape: dims(-1, 32, 32, 3) } } },
        {
          name: 'axes',
          op: 'Const',
          attr: { dtype: { type: 'DT_INT32' }, value: { tensor: { dtype: 'DT_INT32', tensorShape: dims(2) } } },
        },
        {
          name: 'mean',
          op: 'Mean',
          input: ['pixels', 'axes'],
          attr: { T: float, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } },
        },
        {
          name: 'kernel',
          op: 'Const',
          attr: { dtype: float, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims(3, 2) } } },
        },
        {
          name: 'logits',
          op: 'MatMul',
          input: ['mean', 'kernel'],
          attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } },
        },
        { name: 'probabilities', op: 'Softmax', input: ['logits'], attr: { T: float } },
      ],
      library: {},
      versions: { producer: 1 },
    },
    weightsManifest: [
      {
        paths: ['weights.bin'],
        weights: [
          { name: 'axes', shape: [2], dtype: 'int32' },
          { name: 'kernel', shape: [3, 2], dtype: 'float32' },
        ],
      },
    ],
  };
  const weights = Buffer.concat([
    Buffer.from(new Int32Array([1, 2]).buffer),
    Buffer.from(new Float32Array(WEIGHTS.flat()).buffer),
  ]);
  await writeFile(path.join(dir, 'model.json'), JSON.stringify(modelJson));
  await writeFile(path.join(dir, 'weights.bin'), weights);
  await writeFile(path.join(dir, 'class_index.json'), CLASS_INDEX);
}

/** A solid-colour PNG of any size, base64. */
export async function solidPng([r, g, b]: [number, number, number], size = 64): Promise<string> {
  return (
    await sharp({ create: { width: size, height: size, channels: 3, background: { r, g, b } } })
      .png()
      .toBuffer()
  ).toString('base64');
}
