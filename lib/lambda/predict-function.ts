/**
 * The predict Lambda function: POST /v1/predict, GET /health/ready and GET /v1/models, answered
 * with the same status codes and bodies as the HTTP server. Each invocation is logged with the
 * Lambda context and the API Gateway request id as correlation id, and publishes its metrics (EMF),
 * errors included.
 */
import type { Context } from 'aws-lambda';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Config } from '../config.ts';
import { ServiceError } from '../errors.ts';
import type { ImageRetriever } from '../images/retrieve.ts';
import type { Logger } from '../logger.ts';
import type { Classifier } from '../model/classifier.ts';
import { parseJsonBody } from '../request-body.ts';
import { predict } from '../service.ts';
import { type StageTimings, round, roundTimings, serverTimingHeader } from '../timings.ts';
import { createRequestParser } from '../validation.ts';
import {
  type HttpEvent,
  type HttpRequest,
  type HttpResponse,
  errorResponse,
  jsonResponse,
  readHttpEvent,
  routeFor,
} from './http-event.ts';
import { serializeRoute } from './response-serializers.ts';
import { ROUTES, type RouteNamesOf, routeKey } from '../routes.ts';

export interface PredictFunctionDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  classifier: Classifier;
  retrieve: ImageRetriever;
}

export type LambdaHandler = (event: HttpEvent, context: Context) => Promise<HttpResponse>;

interface RouteResult {
  /** The body, serialized through the route's response schema. */
  json: string;
  timings?: StageTimings;
}

export function createPredictHandler(deps: PredictFunctionDeps): LambdaHandler {
  const { config, logger, metrics, classifier } = deps;
  const requestParser = createRequestParser(config);

  const handlers: Record<RouteNamesOf<'predict'>, (request: HttpRequest) => Promise<RouteResult>> = {
    predict: async (request) => {
      // As the HTTP server: no body and no content type is an absent body (a 422), not a parse error.
      const absent = !request.body?.length && request.headers['content-type'] === undefined;
      const json = absent
        ? undefined
        : parseJsonBody(request.body ?? '', request.headers['content-type'], config.maxBodyBytes);
      const { body, timings } = await predict(requestParser.parse(json), { classifier, retrieve: deps.retrieve });
      return { json: serializeRoute.predict(body), timings };
    },
    readiness: async () => ({ json: serializeRoute.readiness({ status: 'ready' }) }),
    models: async () => ({ json: serializeRoute.models(classifier.info) }),
  };
  // The routes serverless.yml gives this function, from the route table.
  const routes = Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => [routeKey(ROUTES[name as keyof typeof handlers]), handler]),
  );

  return async (event, context) => {
    const started = performance.now();
    logger.addContext(context);
    logger.setCorrelationId(context.awsRequestId);
    metrics.captureColdStartMetric();

    let request: HttpRequest | undefined;
    let response: HttpResponse;
    let result: RouteResult | undefined;
    let errorCode: string | undefined;
    try {
      request = readHttpEvent(event);
      if (request.requestId) logger.setCorrelationId(request.requestId);
      result = await routeFor(routes, request)(request);
      response = jsonResponse(
        200,
        result.json,
        result.timings ? { 'server-timing': serverTimingHeader(result.timings) } : {},
      );
    } catch (error) {
      const failure = errorResponse(error);
      response = failure.response;
      errorCode = failure.body.code;
      if (!(error instanceof ServiceError)) logger.error('Unexpected error', error as Error);
      metrics.singleMetric().addDimension('ErrorCode', errorCode).addMetric('Errors', MetricUnit.Count, 1);
    } finally {
      recordMetrics(metrics, result?.timings);
      metrics.publishStoredMetrics();
    }
    if (request?.requestId) response.headers['x-request-id'] = request.requestId;
    logger.info('Request completed', {
      method: request?.method,
      path: request?.path,
      status: response.statusCode,
      durationMs: round(performance.now() - started),
      ...(result?.timings && roundTimings(result.timings)),
      ...(errorCode && { code: errorCode }),
    });
    return response;
  };
}

function recordMetrics(metrics: Metrics, timings: StageTimings | undefined): void {
  metrics.addMetric('Requests', MetricUnit.Count, 1);
  if (!timings) return;
  metrics.addMetric('ImagesClassified', MetricUnit.Count, timings.images);
  for (const size of timings.batchSizes) metrics.addMetric('BatchSize', MetricUnit.Count, size);
  metrics.addMetric('DownloadTime', MetricUnit.Milliseconds, timings.downloadMs);
  metrics.addMetric('DecodeTime', MetricUnit.Milliseconds, timings.decodeMs);
  metrics.addMetric('QueueTime', MetricUnit.Milliseconds, timings.queueMs);
  metrics.addMetric('InferenceTime', MetricUnit.Milliseconds, timings.inferenceMs);
}
