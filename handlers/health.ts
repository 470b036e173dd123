/** Lambda handler of the health function (GET /health). */
import { loadConfig } from '../lib/config.ts';
import { createHealthHandler } from '../lib/lambda/health-function.ts';
import { createLogger } from '../lib/logger.ts';

export const handler = createHealthHandler(createLogger(loadConfig(process.env)));
