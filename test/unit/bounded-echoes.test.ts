/** What a client sends is quoted back (in errors and log lines) at a bounded length, whatever its size. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { ServiceError, toErrorResponse } from '../../lib/errors.ts';
import { MAX_LOGGED_STRING, createLogger } from '../../lib/logger.ts';
import { createRequestParser } from '../../lib/validation.ts';

describe('bounded echoes', () => {
  const parser = createRequestParser({ maxImagesPerRequest: 4 });
  const refusal = (body: unknown) => {
    try {
      parser.parse(body);
    } catch (error) {
      assert.ok(error instanceof ServiceError);
      return toErrorResponse(error);
    }
    assert.fail('the request was accepted');
  };

  test('an unknown key of 5 MB is quoted in at most 101 characters, in the field and in the message', () => {
    const key = 'k'.repeat(5 * 1024 * 1024);
    const { statusCode, body } = refusal({ images: [], [key]: 1 });
    assert.equal(statusCode, 422);
    const [entry] = body.errors ?? [];
    assert.equal(entry?.code, 'FIELD_UNKNOWN');
    assert.equal(entry?.field, `${'k'.repeat(100)}…`);
    assert.ok(JSON.stringify(body).length < 1000, `the error body is ${JSON.stringify(body).length} characters`);
  });

  test('an unknown key inside an image is cut the same way, with its path', () => {
    const { body } = refusal({ images: [{ url: 'http://127.0.0.1/a.png', ['x'.repeat(300)]: 1 }] });
    assert.equal(body.errors?.[0]?.field, `images[0].${'x'.repeat(100)}…`);
  });

  test('a log line cuts every string to MAX_LOGGED_STRING characters', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const original = process.stdout.write;
    process.stdout.write = sink.write.bind(sink) as typeof process.stdout.write;
    try {
      const logger = createLogger({ serviceName: 'test', logLevel: 'INFO' });
      logger.createChild({ persistentKeys: { request_id: 'r' } }).info('Request completed', {
        field: 'f'.repeat(20 * 1024 * 1024),
        error: new Error('e'.repeat(1024 * 1024)),
      });
    } finally {
      process.stdout.write = original;
    }
    const line = lines.join('');
    assert.ok(line.length < 4 * MAX_LOGGED_STRING + 1000, `the log line is ${line.length} characters`);
    const entry = JSON.parse(line);
    assert.match(entry.field, /^f{2048}… \(20969472 more characters\)$/);
    assert.equal(entry.request_id, 'r');
  });
});
