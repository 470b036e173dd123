/**
 * The health Lambda function: GET /health, liveness as the seed defines it. It loads no model, so
 * it answers in milliseconds with little memory. (Readiness, GET /health/ready, is answered by the
 * predict function, which holds the model.)
 */
import type { Logger } from '../logger.ts';
import { type LambdaHandler, createHttpFunction } from './http-function.ts';
import { serializeRoute } from './response-serializers.ts';

export function createHealthHandler(logger: Logger): LambdaHandler {
  return createHttpFunction<'health'>({
    logger,
    routes: { health: async () => ({ json: serializeRoute.health({ message: 'OK' }) }) },
  });
}
