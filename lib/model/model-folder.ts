/**
 * What a model folder holds: the network in one or more formats, and its class index. Reading it is
 * separate from loading an engine so the engine can be chosen from what is there.
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { MODEL_CONFIG_FILE, type ModelConfig, parseModelConfig } from './model-spec.ts';

export interface Label {
  /** The class id, a WordNet id for ImageNet (`n02124075`). */
  category: string;
  /** The human-readable name, as the class index spells it (`Egyptian_cat`). */
  name: string;
}

export interface ModelFolder {
  dir: string;
  /** The folder's name, reported as the model's name. */
  name: string;
  labels: Label[];
  /** Paths of the formats present. */
  files: { tfjsModel?: string; onnxModel?: string };
  /** Input and output contract: model.config.json, or MobileNetV2's defaults. */
  config: ModelConfig;
}

/** A model folder that cannot be served; its message names the file and the problem. */
export class ModelFolderError extends Error {
  override readonly name = 'ModelFolderError';
}

export const CLASS_INDEX_FILES = ['imagenet_class_index.json', 'class_index.json'];

export async function readModelFolder(dir: string): Promise<ModelFolder> {
  const absolute = path.resolve(dir);
  const existing = async (file: string) =>
    (await exists(path.join(absolute, file))) ? path.join(absolute, file) : undefined;
  const files = { tfjsModel: await existing('model.json'), onnxModel: await existing('model.onnx') };
  if (!files.tfjsModel && !files.onnxModel) {
    throw new ModelFolderError(`The model folder ${absolute} has neither model.json (TF.js) nor model.onnx.`);
  }
  let classIndex: string | undefined;
  for (const file of CLASS_INDEX_FILES) classIndex ??= await existing(file);
  if (!classIndex)
    throw new ModelFolderError(`The model folder ${absolute} has no class index (${CLASS_INDEX_FILES.join(' or ')}).`);
  const configFile = await existing(MODEL_CONFIG_FILE);
  return {
    dir: absolute,
    name: path.basename(absolute),
    labels: parseClassIndex(await readFile(classIndex, 'utf8'), classIndex),
    files,
    config: configFile ? readConfig(await readFile(configFile, 'utf8'), configFile) : parseModelConfig({}),
  };
}

function readConfig(text: string, file: string): ModelConfig {
  try {
    return parseModelConfig(JSON.parse(text));
  } catch (error) {
    throw new ModelFolderError(`${file} is not usable: ${(error as Error).message}`);
  }
}

/** Keras' class index: `{"0": ["n01440764", "tench"], ...}`, keys 0..N-1. */
export function parseClassIndex(text: string, file: string): Label[] {
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch (error) {
    throw new ModelFolderError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof index !== 'object' || index === null || Array.isArray(index)) {
    throw new ModelFolderError(`${file} must be an object mapping "0".."N-1" to [id, name].`);
  }
  const entries = index as Record<string, unknown>;
  const count = Object.keys(entries).length;
  const labels: Label[] = [];
  for (let i = 0; i < count; i++) {
    const entry = entries[String(i)];
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') {
      throw new ModelFolderError(`${file} must map "${i}" to [id, name] (keys 0..${count - 1}, no gaps).`);
    }
    labels.push({ category: entry[0], name: entry[1] });
  }
  if (labels.length === 0) throw new ModelFolderError(`${file} has no classes.`);
  return labels;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
