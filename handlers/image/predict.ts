/**
 * Entry of the predict function in the container image. Awaiting initialisation at top level keeps
 * model loading inside Lambda's init phase, which provisioned concurrency runs before traffic
 * arrives. (handlers/predict.ts cannot await at top level itself: `serverless invoke local`
 * loads it with require(), which refuses modules that do.)
 */
import { initialised } from '../predict.ts';

await initialised;

export { handler } from '../predict.ts';
