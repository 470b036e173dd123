/**
 * The health Lambda function: GET /health, liveness as the seed defines it. It loads no model, so
 * it answers in milliseconds with little memory. (Readiness, GET /health/ready, is answered by the
 * predict function, which holds the model.)
 */
import type { Logger } from '../logger.ts';
import { routeMissing } from '../errors.ts';
import { type HttpRequest, type HttpResponse, errorResponse, jsonResponse, methodsAt, readHttpEvent } from './http-event.ts';
import type { LambdaHandler } from './predict-function.ts';
import { serializers } from './response-serializers.ts';

export function createHealthHandler(logger: Logger): LambdaHandler {
  return async (event, context) => {
    logger.addContext(context);
    logger.setCorrelationId(context.awsRequestId);
    let request: HttpRequest | undefined;
    let response: HttpResponse;
    try {
      request = readHttpEvent(event);
      if (request.requestId) logger.setCorrelationId(request.requestId);
      if (request.method !== 'GET' || request.path !== '/health') throw routeMissing(methodsAt(['GET /health'], request.path));
      response = jsonResponse(200, serializers.health({ message: 'OK' }));
    } catch (error) {
      response = errorResponse(error).response;
    }
    if (request?.requestId) response.headers['x-request-id'] = request.requestId;
    logger.info('Request completed', { method: request?.method, path: request?.path, status: response.statusCode });
    return response;
  };
}
