/**
 * One invocation of an HTTP Lambda function, the same for every function: the Lambda context and a
 * correlation id (the caller's x-request-id, else API Gateway's request id) on the logger, the route
 * from the route table, errors in the API's shape, x-request-id echoed, metrics published (errors
 * included) and one "Request completed" line. A function supplies only its route handlers.
 */
import type { Context } from 'aws-lambda';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { raceDeadline, startDeadline } from '../deadline.ts';
import { ServiceError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { ROUTES, type RouteNamesOf, routeKey } from '../routes.ts';
import { type StageTimings, round, roundTimings, serverTimingHeader } from '../timings.ts';
import {
  type HttpEvent,
  type HttpRequest,
  type HttpResponse,
  errorResponse,
  jsonResponse,
  readHttpEvent,
  routeFor,
} from './http-event.ts';
import type { LambdaTracing } from './tracing.ts';

export type LambdaHandler = (event: HttpEvent, context: Context) => Promise<HttpResponse>;

export interface RouteResult {
  /** The body, serialized through the route's response schema (response-serializers.ts). */
  json: string;
  timings?: StageTimings;
}

/** A route's work; `signal` aborts at the invocation's deadline. */
export type RouteHandler = (request: HttpRequest, signal: AbortSignal) => Promise<RouteResult>;

/**
 * Time kept back from the function's timeout to answer 504, log and publish metrics: past the
 * timeout Lambda kills the invocation, and API Gateway answers a bare 5xx with nothing logged.
 */
export const DEADLINE_MARGIN_MS = 1_500;

export interface HttpFunction<L extends 'predict' | 'health'> {
  logger: Logger;
  /** A handler for every route serverless.yml gives this function: the type asks for each one. */
  routes: Record<RouteNamesOf<L>, RouteHandler>;
  /** Per-invocation metrics (EMF); a function without them publishes none. */
  metrics?: Metrics;
  /** Runs each invocation inside a trace (X-Ray, when tracing is on); absent, nothing is traced. */
  tracing?: Pick<LambdaTracing, 'invocation'>;
}

export function createHttpFunction<L extends 'predict' | 'health'>(fn: HttpFunction<L>): LambdaHandler {
  const { logger, metrics, tracing } = fn;
  const routes = Object.fromEntries(
    Object.entries<RouteHandler>(fn.routes).map(([name, handler]) => [
      routeKey(ROUTES[name as RouteNamesOf<L>]),
      handler,
    ]),
  );

  const invoke: LambdaHandler = async (event, context) => {
    const started = performance.now();
    logger.addContext(context);
    logger.setCorrelationId(context.awsRequestId);
    // Dimensioned by the function's name, which names the stage too (image-classifier-prod-predict).
    metrics?.captureColdStartMetric(context.functionName);

    let request: HttpRequest | undefined;
    let response: HttpResponse;
    let result: RouteResult | undefined;
    let errorCode: string | undefined;
    const deadline = startDeadline(context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS);
    try {
      request = readHttpEvent(event);
      if (request.requestId) logger.setCorrelationId(request.requestId);
      result = await raceDeadline(routeFor(routes, request)(request, deadline.signal), deadline.signal);
      const timing = result.timings ? { 'server-timing': serverTimingHeader(result.timings) } : undefined;
      response = jsonResponse(200, result.json, timing);
    } catch (error) {
      const failure = errorResponse(error);
      response = failure.response;
      errorCode = failure.body.code;
      if (!(error instanceof ServiceError)) logger.error('Unexpected error', error as Error);
      metrics?.singleMetric().addDimension('ErrorCode', errorCode).addMetric('Errors', MetricUnit.Count, 1);
    } finally {
      deadline.clear();
      if (metrics) {
        recordMetrics(metrics, result?.timings);
        metrics.publishStoredMetrics();
      }
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
  return tracing ? (event, context) => tracing.invocation(() => invoke(event, context)) : invoke;
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
