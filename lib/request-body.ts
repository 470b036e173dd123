/**
 * Raw request body -> JSON value, with the checks every transport must make the same way: JSON
 * content type (415), size (413), well-formed JSON (400). The server registers it as its only body
 * parser and the Lambda handlers call it, so both give the same answer to the same bytes.
 */
import { ServiceError } from './errors.ts';

export function isJsonContentType(contentType: string | undefined): boolean {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json' || (mediaType?.startsWith('application/') === true && mediaType.endsWith('+json'));
}

export function bodyTooLarge(maxBytes: number): ServiceError {
  return new ServiceError('REQUEST_BODY_TOO_LARGE', `The request body is larger than ${maxBytes} bytes.`);
}

export function parseJsonBody(body: Buffer | string, contentType: string | undefined, maxBytes: number): unknown {
  if (!isJsonContentType(contentType)) throw new ServiceError('REQUEST_UNSUPPORTED_MEDIA_TYPE');
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > maxBytes) throw bodyTooLarge(maxBytes);
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') throw new ServiceError('REQUEST_INVALID_JSON', 'The request body is empty.');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ServiceError('REQUEST_INVALID_JSON', `The request body is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
