/**
 * Entry of the batch function in the container image. Awaiting initialisation at top level keeps
 * model loading inside Lambda's init phase, as handlers/image/predict.ts does for predict.
 */
import { initialised } from '../batch.ts';

await initialised;

export { handler } from '../batch.ts';
