/**
 * The classifier: a model folder served by one engine. `loadClassifier` picks the engine, loads and
 * warms it up, and checks that the class index fits the network; `classify` turns decoded pixels
 * into probabilities, BATCH_SIZE images per engine call.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { EngineChoice } from '../config.ts';
import { type Engine, type EngineName, EngineUnavailableError, type InputShape } from './engines/engine.ts';
import { type TfjsEngineName, loadTfjsEngine } from './engines/tfjs.ts';
import { toInputBatch } from './input-tensor.ts';
import { type Label, type ModelFolder, ModelFolderError, readModelFolder } from './model-folder.ts';

export interface ModelInfo {
  name: string;
  engine: EngineName;
  input: InputShape;
  classes: number;
}

export interface Classifier {
  readonly info: ModelInfo;
  readonly labels: ReadonlyArray<Label>;
  /** Class probabilities for each image, given as RGB pixels at the model's input size. */
  classify(images: ReadonlyArray<Uint8Array>): Promise<ClassifyResult>;
  dispose(): Promise<void>;
}

export interface ClassifyResult {
  probabilities: Float32Array[];
  /** Size of each model call that ran these images. */
  batchSizes: number[];
}

export interface ClassifierOptions {
  modelDir: string;
  engine: EngineChoice;
  batchSize: number;
}

export async function loadClassifier(options: ClassifierOptions, logger: Logger): Promise<Classifier> {
  const started = performance.now();
  const folder = await readModelFolder(options.modelDir);
  const engine = await loadEngine(options.engine, folder, logger);
  if (engine.classes !== folder.labels.length) {
    await engine.dispose();
    throw new ModelFolderError(`The model in ${folder.dir} has ${engine.classes} outputs but its class index has ${folder.labels.length} classes.`);
  }
  const info: ModelInfo = { name: folder.name, engine: engine.name, input: engine.input, classes: engine.classes };
  logger.info('Model loaded', { model: info, engine: engine.details, loadMs: Math.round(performance.now() - started) });
  return createClassifier(engine, folder.labels, info, options.batchSize);
}

function createClassifier(engine: Engine, labels: Label[], info: ModelInfo, batchSize: number): Classifier {
  return {
    info,
    labels,
    async classify(images) {
      const probabilities: Float32Array[] = [];
      const batchSizes: number[] = [];
      for (let start = 0; start < images.length; start += batchSize) {
        const chunk = images.slice(start, start + batchSize);
        const output = await engine.run(toInputBatch(chunk, engine.input), chunk.length);
        for (let i = 0; i < chunk.length; i++) probabilities.push(output.slice(i * info.classes, (i + 1) * info.classes));
        batchSizes.push(chunk.length);
      }
      return { probabilities, batchSizes };
    },
    dispose: () => engine.dispose(),
  };
}

/** The engine asked for, or with `auto` the fastest that loads here: tfjs-node, then tfjs-wasm. */
async function loadEngine(choice: EngineChoice, folder: ModelFolder, logger: Logger): Promise<Engine> {
  const candidates: TfjsEngineName[] = choice === 'auto' ? ['tfjs-node', 'tfjs-wasm'] : [choice];
  for (const name of candidates) {
    try {
      return await loadNamedEngine(name, folder);
    } catch (error) {
      if (!(error instanceof EngineUnavailableError) || choice !== 'auto') throw error;
      logger.info('Engine unavailable, trying the next one', { engine: name, reason: error.message });
    }
  }
  throw new EngineUnavailableError(`No engine could load ${folder.dir}.`);
}

async function loadNamedEngine(name: TfjsEngineName, folder: ModelFolder): Promise<Engine> {
  if (!folder.files.tfjsModel) throw new EngineUnavailableError(`${name} needs a TF.js model.json in ${folder.dir}.`);
  return loadTfjsEngine(name, folder.files.tfjsModel);
}
