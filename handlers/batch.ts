/**
 * Lambda handler of the batch function: SQS events from the batch queue, one chunk of a batch job
 * per record. The model and the S3 client start loading when the module is imported, once per
 * container. (The container image's entry, handlers/image/batch.ts, awaits them at top level.)
 */
import { type BatchHandler, createBatchHandler, initBatchFunction } from '../lib/lambda/batch-function.ts';

export const initialised = initBatchFunction(process.env).then((deps) => createBatchHandler(deps));

export const handler: BatchHandler = async (event, context) => (await initialised)(event, context);
