/** A Logger that keeps its lines, and its children's with their persistent keys, for tests that read logs. */
import type { Logger } from '../../lib/logger.ts';

export interface LogLine {
  level: string;
  message: string;
  keys: Record<string, unknown>;
  attributes: Record<string, any>;
}

export function recordingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const make = (keys: Record<string, unknown>): Logger => {
    const record = (level: string) => (message: string, attributes?: unknown) =>
      lines.push({
        level,
        message,
        keys,
        attributes: attributes instanceof Error ? { error: attributes } : { ...(attributes as object) },
      });
    return {
      createChild: ({ persistentKeys = {} }: { persistentKeys?: Record<string, unknown> } = {}) =>
        make({ ...keys, ...persistentKeys }),
      debug: record('DEBUG'),
      info: record('INFO'),
      warn: record('WARN'),
      error: record('ERROR'),
      critical: record('CRITICAL'),
    } as unknown as Logger;
  };
  return { logger: make({}), lines };
}

/** A log line as the text a reader (or a log shipper) would see, errors with their messages. */
export const lineText = (line: LogLine): string =>
  JSON.stringify(line, (_key, value) => (value instanceof Error ? `${value.name}: ${value.message}` : value));
