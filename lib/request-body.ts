/**
 * Raw request body -> JSON value, with the checks every transport must make the same way: JSON
 * content type (415), size (413), well-formed JSON (400). The server's only body parser and the
 * Lambda handlers use the same checks, so both give the same answer to the same bytes.
 */
import { isAscii } from 'node:buffer';
import { ServiceError } from './errors.ts';
import { parseJsonLiftingBase64 } from './json-base64.ts';
import { readCapped } from './read-capped.ts';

export function isJsonContentType(contentType: string | undefined): boolean {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  return (
    mediaType === 'application/json' || (mediaType?.startsWith('application/') === true && mediaType.endsWith('+json'))
  );
}

/**
 * Reads a request body, within `maxBytes` (413 past it), into `into` when given (memory of the
 * declared length). A client that goes away mid-body has sent a malformed request, not caused a fault.
 */
export async function readBody(
  stream: AsyncIterable<Buffer>,
  contentLength: string | undefined,
  maxBytes: number,
  into?: Buffer,
): Promise<Buffer> {
  try {
    return await readCapped(stream, contentLength, maxBytes, () => bodyTooLarge(maxBytes), into);
  } catch (error) {
    if (error instanceof ServiceError) throw error;
    throw new ServiceError('REQUEST_MALFORMED', 'The request body was not received in full.', { cause: error });
  }
}

function bodyTooLarge(maxBytes: number): ServiceError {
  return new ServiceError('REQUEST_BODY_TOO_LARGE', `The request body is larger than ${maxBytes} bytes.`);
}

/** The checks and parsing of a whole body already in hand (the Lambda handlers' case). */
export function parseJsonBody(body: Buffer | string, contentType: string | undefined, maxBytes: number): unknown {
  if (!isJsonContentType(contentType)) throw new ServiceError('REQUEST_UNSUPPORTED_MEDIA_TYPE');
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > maxBytes) throw bodyTooLarge(maxBytes);
  return parseJson(body);
}

/**
 * A body's bytes (or text) as JSON: 400 REQUEST_INVALID_JSON when empty or malformed. Bytes go
 * through parseJsonLiftingBase64, which decodes images' base64 straight from them.
 */
export function parseJson(body: Buffer | string): unknown {
  try {
    const value = typeof body === 'string' ? undefined : parseJsonLiftingBase64(body);
    if (value !== undefined) return value;
    // Bodies are mostly base64, pure ASCII: read as latin1 (a copy) instead of decoding UTF-8.
    const text = typeof body === 'string' ? body : isAscii(body) ? body.toString('latin1') : body.toString('utf8');
    if (text.trim() === '') throw new ServiceError('REQUEST_INVALID_JSON', 'The request body is empty.');
    return JSON.parse(text);
  } catch (error) {
    if (error instanceof ServiceError) throw error;
    throw new ServiceError('REQUEST_INVALID_JSON', `The request body is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
