/** Structured JSON logs through Powertools Logger, configured from Config rather than its own env variables. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from './config.ts';

export type { Logger };

/** Longest string a log line carries: values that come from clients must not make lines of megabytes. */
export const MAX_LOGGED_STRING = 2048;

export function createLogger(config: Pick<Config, 'serviceName' | 'logLevel'>): Logger {
  return new Logger({ serviceName: config.serviceName, logLevel: config.logLevel, jsonReplacerFn: capStrings });
}

function capStrings(_key: string, value: unknown): unknown {
  if (typeof value !== 'string' || value.length <= MAX_LOGGED_STRING) return value;
  return `${value.slice(0, MAX_LOGGED_STRING)}… (${value.length - MAX_LOGGED_STRING} more characters)`;
}
