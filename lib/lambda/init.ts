/**
 * What a Lambda container builds once, at init, and reuses for every invocation: configuration,
 * logger, metrics, the downloader and the classifier (loaded and warmed up).
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { loadConfig } from '../config.ts';
import { createDownloader, downloadLimits } from '../images/download.ts';
import { createImageRetriever } from '../images/retrieve.ts';
import { createLogger } from '../logger.ts';
import { inProcessOptions, loadClassifier } from '../model/classifier.ts';
import type { PredictFunctionDeps } from './predict-function.ts';

export async function initPredictFunction(env: Record<string, string | undefined>): Promise<PredictFunctionDeps> {
  const config = loadConfig(env);
  const logger = createLogger(config);
  const metrics = new Metrics({ namespace: config.metricsNamespace, serviceName: config.serviceName });
  const retrieve = createImageRetriever(config, createDownloader(downloadLimits(config)));
  try {
    const classifier = await loadClassifier(inProcessOptions(config), logger);
    return { config, logger, metrics, classifier, retrieve };
  } catch (error) {
    logger.critical('The model could not be loaded', error as Error);
    throw error;
  }
}
