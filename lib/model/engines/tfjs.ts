/**
 * TF.js engines: tfjs-node (libtensorflow, native), tfjs-wasm (WebAssembly with SIMD) and tfjs-cpu
 * (pure JavaScript, slow). They load a layers-model (Keras, via tensorflowjs_converter) or a
 * graph-model (a TensorFlow SavedModel converted) from disk through a file-system IOHandler, so no
 * backend-specific loader is needed. TF.js keeps one global backend per thread, so a thread
 * serves one TF.js engine.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { type ModelConfig, inputDims, resolveInput } from '../model-spec.ts';
import { type Engine, type EngineName, EngineUnavailableError, runInSlices } from './engine.ts';

export type TfjsEngineName = Extract<EngineName, 'tfjs-node' | 'tfjs-wasm' | 'tfjs-cpu'>;
type Tf = typeof TF;

const WASM_IMAGES_PER_RUN = 2;
const BACKENDS: Record<TfjsEngineName, string> = { 'tfjs-node': 'tensorflow', 'tfjs-wasm': 'wasm', 'tfjs-cpu': 'cpu' };

export async function loadTfjsEngine(
  name: TfjsEngineName,
  modelJsonPath: string,
  config: ModelConfig,
): Promise<Engine> {
  const tf = await importBackend(name);
  if (!(await tf.setBackend(BACKENDS[name])))
    throw new EngineUnavailableError(`The TF.js ${BACKENDS[name]} backend failed to initialise.`);
  await tf.ready();
  tf.enableProdMode();

  const modelJson = JSON.parse(await readFile(modelJsonPath, 'utf8')) as TF.io.ModelJSON;
  const handler = fileSystemHandler(tf, modelJson, path.dirname(modelJsonPath));
  const model =
    modelJson.format === 'graph-model' ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
  const input = resolveInput(model.inputs[0]?.shape ?? [], config, modelJsonPath);

  const runSlice = async (batch: Float32Array, count: number): Promise<Float32Array> => {
    const output = tf.tidy(() => model.predict(tf.tensor(batch, inputDims(input, count))) as TF.Tensor);
    try {
      return (await output.data()) as Float32Array;
    } finally {
      output.dispose();
    }
  };
  // The warm-up run also tells the number of classes, which a graph model may not declare.
  const imageSize = input.width * input.height * input.channels;
  const classes = (await runSlice(new Float32Array(imageSize), 1)).length;
  // WebAssembly memory grows to fit the largest batch and never shrinks. Measured on MobileNetV2,
  // one thread, batches of 8: whole 38.3 ms/image and 489 MB RSS, in slices of 2: 35.7 ms and 313 MB.
  const sliceSize = name === 'tfjs-wasm' ? WASM_IMAGES_PER_RUN : Number.POSITIVE_INFINITY;
  const run = runInSlices(runSlice, sliceSize, imageSize, classes);

  return {
    name,
    input,
    output: config.output,
    classes,
    details: {
      backend: tf.getBackend(),
      format: modelJson.format ?? 'layers-model',
      ...(name === 'tfjs-wasm' && {
        simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'),
        imagesPerRun: WASM_IMAGES_PER_RUN,
      }),
    },
    run,
    tensors: () => tf.memory().numTensors,
    async dispose() {
      model.dispose();
    },
  };
}

/** The TF.js namespace with the engine's backend registered, or EngineUnavailableError saying why not. */
async function importBackend(name: TfjsEngineName): Promise<Tf> {
  try {
    if (name === 'tfjs-node') {
      // tfjs-node re-exports @tensorflow/tfjs with the native backend registered; its import fails
      // when the package or libtensorflow is missing.
      return (await import('@tensorflow/tfjs-node' as string)) as Tf;
    }
    const tf = await import('@tensorflow/tfjs');
    if (name === 'tfjs-wasm') await import('@tensorflow/tfjs-backend-wasm');
    return tf;
  } catch (error) {
    throw new EngineUnavailableError(`${name} cannot be loaded: ${(error as Error).message.split('\n')[0]}`, {
      cause: error,
    });
  }
}

/** Hands model.json and its weight shards to TF.js; @tensorflow/tfjs has no file:// loader without tfjs-node. */
function fileSystemHandler(tf: Tf, modelJson: TF.io.ModelJSON, dir: string): TF.io.IOHandler {
  return {
    async load() {
      const groups = modelJson.weightsManifest ?? [];
      const shards = await Promise.all(
        groups.flatMap((group) => group.paths).map((file) => readFile(path.join(dir, file))),
      );
      return {
        modelTopology: modelJson.modelTopology,
        format: modelJson.format,
        generatedBy: modelJson.generatedBy,
        convertedBy: modelJson.convertedBy,
        signature: modelJson.signature,
        userDefinedMetadata: modelJson.userDefinedMetadata,
        weightSpecs: groups.flatMap((group) => group.weights),
        weightData: tf.io.concatenateArrayBuffers(
          shards.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)),
        ),
      };
    },
  };
}
