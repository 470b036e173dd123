/**
 * TF.js engines: tfjs-node (libtensorflow, native), tfjs-wasm (WebAssembly with SIMD) and tfjs-cpu
 * (pure JavaScript, slow). All three load the layers-model from disk through a file-system
 * IOHandler, so no backend-specific loader is needed. TF.js keeps one global backend per process,
 * so one process serves one TF.js engine.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { type Engine, type EngineName, EngineUnavailableError, type InputShape } from './engine.ts';

export type TfjsEngineName = Extract<EngineName, 'tfjs-node' | 'tfjs-wasm' | 'tfjs-cpu'>;
type Tf = typeof TF;

const BACKENDS: Record<TfjsEngineName, string> = { 'tfjs-node': 'tensorflow', 'tfjs-wasm': 'wasm', 'tfjs-cpu': 'cpu' };

export async function loadTfjsEngine(name: TfjsEngineName, modelJsonPath: string): Promise<Engine> {
  const tf = await importBackend(name);
  if (!(await tf.setBackend(BACKENDS[name]))) throw new EngineUnavailableError(`The TF.js ${BACKENDS[name]} backend failed to initialise.`);
  await tf.ready();
  tf.enableProdMode();

  const model = await tf.loadLayersModel(fileSystemHandler(tf, modelJsonPath));
  const input = inputShapeOf(model.inputs[0]?.shape, modelJsonPath);
  const classes = model.outputs[0]?.shape.at(-1);
  if (typeof classes !== 'number') throw new Error(`${modelJsonPath}: the model's output has no class dimension.`);

  const run = async (batch: Float32Array, count: number): Promise<Float32Array> => {
    const output = tf.tidy(() => model.predict(tf.tensor4d(batch, [count, input.height, input.width, input.channels])) as TF.Tensor);
    try {
      return (await output.data()) as Float32Array;
    } finally {
      output.dispose();
    }
  };
  await run(new Float32Array(input.width * input.height * input.channels), 1);

  return {
    name,
    input,
    classes,
    details: { backend: tf.getBackend(), ...(name === 'tfjs-wasm' && { simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') }) },
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
    throw new EngineUnavailableError(`${name} cannot be loaded: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
}

/** Loads model.json and its weight shards from disk; @tensorflow/tfjs has no file:// loader without tfjs-node. */
function fileSystemHandler(tf: Tf, modelJsonPath: string): TF.io.IOHandler {
  return {
    async load() {
      const modelJson = JSON.parse(await readFile(modelJsonPath, 'utf8')) as TF.io.ModelJSON;
      const groups = modelJson.weightsManifest ?? [];
      const shards = await Promise.all(
        groups.flatMap((group) => group.paths).map((file) => readFile(path.join(path.dirname(modelJsonPath), file))),
      );
      return {
        modelTopology: modelJson.modelTopology,
        format: modelJson.format,
        generatedBy: modelJson.generatedBy,
        convertedBy: modelJson.convertedBy,
        weightSpecs: groups.flatMap((group) => group.weights),
        weightData: tf.io.concatenateArrayBuffers(shards.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))),
      };
    },
  };
}

function inputShapeOf(shape: Array<number | null> | undefined, file: string): InputShape {
  const [, height, width, channels] = shape ?? [];
  if (shape?.length !== 4 || !height || !width || !channels) {
    throw new Error(`${file}: expected an image input of shape [batch, height, width, channels], got ${JSON.stringify(shape)}.`);
  }
  return { width, height, channels };
}
