/**
 * The health Lambda function: GET /health, liveness as the seed defines it. It loads no model, so
 * it answers in milliseconds with little memory. (Readiness, GET /health/ready, is answered by the
 * predict function, which holds the model.)
 */
import type { Logger } from '../logger.ts';
import {
  type HttpRequest,
  type HttpResponse,
  errorResponse,
  jsonResponse,
  readHttpEvent,
  routeFor,
} from './http-event.ts';
import type { LambdaHandler } from './predict-function.ts';
import { serializeRoute } from './response-serializers.ts';
import { ROUTES, routeKey } from '../routes.ts';

export function createHealthHandler(logger: Logger): LambdaHandler {
  const routes = { [routeKey(ROUTES.health)]: () => serializeRoute.health({ message: 'OK' }) };
  return async (event, context) => {
    logger.addContext(context);
    logger.setCorrelationId(context.awsRequestId);
    let request: HttpRequest | undefined;
    let response: HttpResponse;
    try {
      request = readHttpEvent(event);
      if (request.requestId) logger.setCorrelationId(request.requestId);
      response = jsonResponse(200, routeFor(routes, request)());
    } catch (error) {
      response = errorResponse(error).response;
    }
    if (request?.requestId) response.headers['x-request-id'] = request.requestId;
    logger.info('Request completed', { method: request?.method, path: request?.path, status: response.statusCode });
    return response;
  };
}
