/**
 * The health Lambda function: GET /health, liveness as the seed defines it. It loads no model, so
 * it answers in milliseconds with little memory. (Readiness, GET /health/ready, is answered by the
 * predict function, which holds the model.)
 */
import type { Logger } from '../logger.ts';
import { routeMissing } from '../errors.ts';
import {
  type HttpRequest,
  type HttpResponse,
  errorResponse,
  jsonResponse,
  methodsAt,
  readHttpEvent,
} from './http-event.ts';
import type { LambdaHandler } from './predict-function.ts';
import { serializeRoute } from './response-serializers.ts';
import { routeKey, routesOf } from '../routes.ts';

export function createHealthHandler(logger: Logger): LambdaHandler {
  return async (event, context) => {
    logger.addContext(context);
    logger.setCorrelationId(context.awsRequestId);
    let request: HttpRequest | undefined;
    let response: HttpResponse;
    try {
      request = readHttpEvent(event);
      if (request.requestId) logger.setCorrelationId(request.requestId);
      const keys = routesOf('health').map(routeKey);
      if (!keys.includes(`${request.method} ${request.path}`)) throw routeMissing(methodsAt(keys, request.path));
      response = jsonResponse(200, serializeRoute.health({ message: 'OK' }));
    } catch (error) {
      response = errorResponse(error).response;
    }
    if (request?.requestId) response.headers['x-request-id'] = request.requestId;
    logger.info('Request completed', { method: request?.method, path: request?.path, status: response.statusCode });
    return response;
  };
}
