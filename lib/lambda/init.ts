/**
 * What a Lambda container builds once, at init, and reuses for every invocation: the runtime
 * (configuration, logger, metrics, downloader) with its classifier loaded and warmed up.
 */
import { loadConfig } from '../config.ts';
import { createRuntime } from '../runtime.ts';
import type { PredictFunctionDeps } from './predict-function.ts';

export async function initPredictFunction(env: Record<string, string | undefined>): Promise<PredictFunctionDeps> {
  const runtime = createRuntime(loadConfig(env));
  const classifier = await runtime.loadClassifier();
  return {
    config: runtime.config,
    logger: runtime.logger,
    metrics: runtime.metrics,
    retrieve: runtime.retrieve,
    classifier,
  };
}
