/**
 * The Lambda functions' response bodies, serialized through the same JSON Schemas (and the same
 * library, fast-json-stringify) as the HTTP server's: a field the schema does not name is dropped
 * on both transports alike, never sent by one only.
 */
import fastJson from 'fast-json-stringify';
import { errorBodySchema, healthSchema, modelInfoSchema, predictResponseSchema, readinessSchema } from '../schemas.ts';

export type Serializer = (body: any) => string;

export const serializers = {
  error: fastJson(errorBodySchema),
  health: fastJson(healthSchema),
  readiness: fastJson(readinessSchema),
  modelInfo: fastJson(modelInfoSchema),
  predict: fastJson(predictResponseSchema),
} satisfies Record<string, Serializer>;
