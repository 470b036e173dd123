/**
 * What a Lambda container that holds the model builds once, at init, and reuses for every
 * invocation: the runtime (configuration, logger, metrics, downloader) with its classifier loaded
 * and warmed up, and the X-Ray tracing when serverless.yml's `tracing` param is on
 * (POWERTOOLS_TRACE_ENABLED=true). The predict and batch functions both start here.
 */
import { type Config, loadConfig } from '../config.ts';
import type { Trace } from '../images/retrieve.ts';
import type { Classifier } from '../model/classifier.ts';
import { type Runtime, createRuntime } from '../runtime.ts';
import type { PredictFunctionDeps } from './predict-function.ts';
import type { LambdaTracing } from './tracing.ts';

export interface FunctionInit<T> {
  /** What `build` made: it holds the runtime. */
  built: T;
  /** The runtime's classifier, loaded. */
  classifier: Classifier;
  tracing?: LambdaTracing;
}

/**
 * Loads the configuration and the tracing, builds the runtime with `build` (given the trace hook
 * when tracing is on) and loads its classifier. `build` is createRuntime for predict, and the chunk
 * runtime (createRuntime with S3 sources, and its S3 client) for batch.
 */
export async function initFunction<T extends { runtime: Runtime }>(
  env: Record<string, string | undefined>,
  build: (config: Config, trace: Trace | undefined) => T,
): Promise<FunctionInit<T>> {
  const config = loadConfig(env);
  // Loaded only when asked for: the X-Ray SDK stays out of an untraced function's cold start.
  const tracing =
    env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() === 'true'
      ? (await import('./tracing.ts')).createLambdaTracing(config.serviceName)
      : undefined;
  const built = build(config, tracing?.trace);
  const classifier = await built.runtime.loadClassifier();
  return { built, classifier, tracing };
}

export async function initPredictFunction(env: Record<string, string | undefined>): Promise<PredictFunctionDeps> {
  const { built, classifier, tracing } = await initFunction(env, (config, trace) => ({
    runtime: createRuntime(config, { trace }),
  }));
  const { runtime } = built;
  return {
    config: runtime.config,
    logger: runtime.logger,
    metrics: runtime.metrics,
    retrieve: runtime.retrieve,
    classifier,
    tracing,
  };
}
