/** Structured JSON logs through Powertools Logger, configured from Config rather than its own env variables. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from './config.ts';

export type { Logger };

export function createLogger(config: Pick<Config, 'serviceName' | 'logLevel'>): Logger {
  return new Logger({ serviceName: config.serviceName, logLevel: config.logLevel });
}
