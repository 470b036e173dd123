/**
 * The predict Lambda function: POST /v1/predict, GET /health/ready and GET /v1/models, answered
 * with the same status codes and bodies as the HTTP server. http-function.ts does the rest of each
 * invocation (logging, correlation id, errors, metrics).
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Config } from '../config.ts';
import type { ImageRetriever } from '../images/retrieve.ts';
import type { Logger } from '../logger.ts';
import type { Classifier } from '../model/classifier.ts';
import { parseJsonBody } from '../request-body.ts';
import { predict } from '../service.ts';
import { createRequestParser } from '../validation.ts';
import { type LambdaHandler, createHttpFunction } from './http-function.ts';
import { serializeRoute } from './response-serializers.ts';
import type { LambdaTracing } from './tracing.ts';

export interface PredictFunctionDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  classifier: Classifier;
  retrieve: ImageRetriever;
  /**
   * X-Ray tracing, when on: a subsegment per invocation, and per download, decode and inference
   * (the retriever must have been given the same `trace`). Absent, nothing is traced.
   */
  tracing?: LambdaTracing;
}

export function createPredictHandler(deps: PredictFunctionDeps): LambdaHandler {
  const { config, classifier } = deps;
  const requestParser = createRequestParser(config);
  return createHttpFunction<'predict'>({
    logger: deps.logger,
    metrics: deps.metrics,
    tracing: deps.tracing,
    routes: {
      predict: async (request, signal) => {
        // As the HTTP server: no body and no content type is an absent body (a 422), not a parse error.
        const absent = !request.body?.length && request.headers['content-type'] === undefined;
        const json = absent
          ? undefined
          : parseJsonBody(request.body ?? '', request.headers['content-type'], config.maxBodyBytes);
        const { body, timings } = await predict(
          requestParser.parse(json),
          { classifier, retrieve: deps.retrieve, trace: deps.tracing?.trace },
          signal,
        );
        return { json: serializeRoute.predict(body), timings };
      },
      readiness: async () => ({ json: serializeRoute.readiness({ status: 'ready' }) }),
      models: async () => ({ json: serializeRoute.models(classifier.info) }),
    },
  });
}
