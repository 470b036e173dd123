/**
 * Lambda handler of the predict function (POST /v1/predict, GET /health/ready, GET /v1/models).
 * The model starts loading when the module is imported, once per container.
 */
import { initPredictFunction } from '../lib/lambda/init.ts';
import type { LambdaHandler } from '../lib/lambda/http-function.ts';
import { createPredictHandler } from '../lib/lambda/predict-function.ts';

export const initialised = initPredictFunction(process.env).then(createPredictHandler);

export const handler: LambdaHandler = async (event, context) => (await initialised)(event, context);
