/**
 * The server's only body parser and its validator: JSON bodies read with the same checks as the
 * Lambda functions' (415 before a byte is read, 413, 400), a few at a time (body-budget.ts), and
 * validated by the shared ajv compiler.
 * Wrapped with fastify-plugin so the parser and the compiler are the root instance's.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ServiceError } from '../errors.ts';
import { isJsonContentType, parseJson, readBody } from '../request-body.ts';
import { validatorFor } from '../validation.ts';
import { createBufferPool } from '../buffer-pool.ts';
import { type BodyTurn, createBodyBudget } from './body-budget.ts';

export interface BodyParserOptions {
  maxBodyBytes: number;
}

/** How the server reads bodies a few at a time (body-budget.ts): measured on bursts of 6 MB bodies. */
const BODY_BUDGET = {
  /** 1/4 s at 10 MB/s: an upload slower than that is not a burst. */
  checkMs: 250,
  minBytesPerCheck: 2.5 * 2 ** 20,
  maxWaitMs: 5_000,
};

/**
 * Bodies of up to 8 MB (a few photos in base64) are read into reused memory, free again once the
 * JSON is parsed: a fresh 4 MB buffer per request cost about 10 ms of page faults and copying on
 * the event loop under load, and drove V8's garbage collections.
 */
const POOLED_BODY_BYTES = 8 * 2 ** 20;

const bodyParser: FastifyPluginAsync<BodyParserOptions> = async (app, { maxBodyBytes }) => {
  // As many bytes of bodies at once as the largest one allowed: five bodies of 6 MB by default.
  const budget = createBodyBudget({ capacityBytes: maxBodyBytes, ...BODY_BUDGET });
  const bodyMemory = createBufferPool({ keptBytes: 2 * POOLED_BODY_BYTES, maxBufferBytes: POOLED_BODY_BYTES });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', async (request: FastifyRequest, payload: AsyncIterable<Buffer>) => {
    const contentType = request.headers['content-type'];
    // Refuse a wrong content type before reading a byte of the body.
    if (!isJsonContentType(contentType)) throw new ServiceError('REQUEST_UNSUPPORTED_MEDIA_TYPE');
    const contentLength = request.headers['content-length'];
    // Without a length, a body may be the largest allowed; over the limit, readBody refuses it at once.
    const declared = contentLength === undefined ? maxBodyBytes : Number(contentLength);
    const turn = await budget.acquire(declared <= maxBodyBytes ? declared : 0);
    // Parsing copies what it keeps (strings, decoded images), so the memory is free once it returns.
    const memory = contentLength !== undefined && declared <= POOLED_BODY_BYTES ? bodyMemory(declared) : undefined;
    try {
      return parseJson(await readBody(counted(payload, turn), contentLength, maxBodyBytes, memory?.data));
    } finally {
      memory?.release();
      turn.release();
    }
  });
  app.setValidatorCompiler(({ schema }) => validatorFor(schema));
};

export const bodyParserPlugin = fp(bodyParser, { name: 'body-parser' });

async function* counted(stream: AsyncIterable<Buffer>, turn: BodyTurn): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    turn.received(chunk.length);
    yield chunk;
  }
}
