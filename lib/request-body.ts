/**
 * Raw request body -> JSON value, with the checks every transport must make the same way: JSON
 * content type (415), size (413), well-formed JSON (400). The server registers it as its only body
 * parser and the Lambda handlers call it, so both give the same answer to the same bytes.
 */
import { isAscii } from 'node:buffer';
import { ServiceError } from './errors.ts';

export function isJsonContentType(contentType: string | undefined): boolean {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json' || (mediaType?.startsWith('application/') === true && mediaType.endsWith('+json'));
}

/**
 * Reads a request body into one buffer, sized from Content-Length when the client sends it, so a
 * large body is never held twice (as chunks, then joined). More than `maxBytes` is refused, from
 * the header when it says so, else once that many bytes have arrived.
 */
export async function readBody(stream: AsyncIterable<Buffer>, contentLength: string | undefined, maxBytes: number): Promise<Buffer> {
  const declared = contentLength === undefined ? undefined : Number(contentLength);
  if (declared !== undefined && declared > maxBytes) throw bodyTooLarge(maxBytes);
  if (declared !== undefined && Number.isSafeInteger(declared)) {
    const body = Buffer.allocUnsafe(declared);
    let offset = 0;
    for await (const chunk of stream) {
      if (offset + chunk.length > declared) throw new ServiceError('REQUEST_MALFORMED', 'The request body is longer than its Content-Length.');
      chunk.copy(body, offset);
      offset += chunk.length;
    }
    if (offset !== declared) throw new ServiceError('REQUEST_MALFORMED', 'The request body is shorter than its Content-Length.');
    return body;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > maxBytes) throw bodyTooLarge(maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

export function bodyTooLarge(maxBytes: number): ServiceError {
  return new ServiceError('REQUEST_BODY_TOO_LARGE', `The request body is larger than ${maxBytes} bytes.`);
}

export function parseJsonBody(body: Buffer | string, contentType: string | undefined, maxBytes: number): unknown {
  if (!isJsonContentType(contentType)) throw new ServiceError('REQUEST_UNSUPPORTED_MEDIA_TYPE');
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > maxBytes) throw bodyTooLarge(maxBytes);
  // Bodies are mostly base64, pure ASCII: read as latin1 (a copy) instead of decoding UTF-8.
  const text = typeof body === 'string' ? body : isAscii(body) ? body.toString('latin1') : body.toString('utf8');
  if (text.trim() === '') throw new ServiceError('REQUEST_INVALID_JSON', 'The request body is empty.');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ServiceError('REQUEST_INVALID_JSON', `The request body is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
