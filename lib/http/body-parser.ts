/**
 * The server's only body parser and its validator: JSON bodies read with the same checks as the
 * Lambda functions' (415 before a byte is read, 413, 400), validated by the shared ajv compiler.
 * Wrapped with fastify-plugin so the parser and the compiler are the root instance's.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ServiceError } from '../errors.ts';
import { isJsonContentType, parseJson, readBody } from '../request-body.ts';
import { validatorFor } from '../validation.ts';

export interface BodyParserOptions {
  maxBodyBytes: number;
}

const bodyParser: FastifyPluginAsync<BodyParserOptions> = async (app, { maxBodyBytes }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', async (request: FastifyRequest, payload: AsyncIterable<Buffer>) => {
    const contentType = request.headers['content-type'];
    // Refuse a wrong content type before reading a byte of the body.
    if (!isJsonContentType(contentType)) throw new ServiceError('REQUEST_UNSUPPORTED_MEDIA_TYPE');
    return parseJson(await readBody(payload, request.headers['content-length'], maxBodyBytes));
  });
  app.setValidatorCompiler(({ schema }) => validatorFor(schema));
};

export const bodyParserPlugin = fp(bodyParser, { name: 'body-parser' });
