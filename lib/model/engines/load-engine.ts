/**
 * Picks and loads the engine for a model folder. `auto` takes the fastest that can run here:
 * onnx when the folder has model.onnx, else tfjs-node when it loads, else tfjs-wasm. `tfjs-cpu` is
 * never picked by `auto`: it is about 40 times slower than tfjs-wasm.
 */
import type { EngineChoice } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import type { ModelFolder } from '../model-folder.ts';
import { type Engine, type EngineName, EngineUnavailableError } from './engine.ts';
import { loadOnnxEngine } from './onnx.ts';
import { loadTfjsEngine } from './tfjs.ts';

export interface EngineOptions {
  /** Threads the engine may use for one batch. */
  threads: number;
}

const AUTO_ORDER: EngineName[] = ['onnx', 'tfjs-node', 'tfjs-wasm'];

export async function loadEngine(
  choice: EngineChoice,
  folder: ModelFolder,
  options: EngineOptions,
  logger: Logger,
): Promise<Engine> {
  const candidates = choice === 'auto' ? AUTO_ORDER : [choice];
  for (const name of candidates) {
    try {
      return await loadNamedEngine(name, folder, options);
    } catch (error) {
      if (!(error instanceof EngineUnavailableError) || choice !== 'auto') throw error;
      logger.info('Engine unavailable, trying the next one', { engine: name, reason: error.message });
    }
  }
  throw new EngineUnavailableError(`No engine could load ${folder.dir}.`);
}

async function loadNamedEngine(name: EngineName, folder: ModelFolder, options: EngineOptions): Promise<Engine> {
  if (name === 'onnx') {
    if (!folder.files.onnxModel) throw new EngineUnavailableError(`onnx needs a model.onnx in ${folder.dir}.`);
    return loadOnnxEngine(folder.files.onnxModel, folder.config, options);
  }
  if (!folder.files.tfjsModel) throw new EngineUnavailableError(`${name} needs a TF.js model.json in ${folder.dir}.`);
  return loadTfjsEngine(name, folder.files.tfjsModel, folder.config);
}
