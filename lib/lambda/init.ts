/**
 * What a Lambda container builds once, at init, and reuses for every invocation: the runtime
 * (configuration, logger, metrics, downloader) with its classifier loaded and warmed up, and the
 * X-Ray tracing when serverless.yml's `tracing` param is on (POWERTOOLS_TRACE_ENABLED=true).
 */
import { loadConfig } from '../config.ts';
import { createRuntime } from '../runtime.ts';
import type { PredictFunctionDeps } from './predict-function.ts';

export async function initPredictFunction(env: Record<string, string | undefined>): Promise<PredictFunctionDeps> {
  const config = loadConfig(env);
  // Loaded only when asked for: the X-Ray SDK stays out of an untraced function's cold start.
  const tracing =
    env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() === 'true'
      ? (await import('./tracing.ts')).createLambdaTracing(config.serviceName)
      : undefined;
  const runtime = createRuntime(config, { trace: tracing?.trace });
  const classifier = await runtime.loadClassifier();
  return {
    config: runtime.config,
    logger: runtime.logger,
    metrics: runtime.metrics,
    retrieve: runtime.retrieve,
    classifier,
    tracing,
  };
}
