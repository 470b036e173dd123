/**
 * Download failures in the API's terms: undici's errors, and the guard's refusal, become ImageErrors
 * that say what the origin did wrong. undici's own error stays in `cause`, for the logs.
 */
import { errors as undiciErrors } from 'undici';
import { ImageError } from '../errors.ts';

/** Thrown inside the connector; recognised after undici hands it back, possibly wrapped. */
export class AddressRefusedError extends Error {
  readonly code = 'ERR_ADDRESS_REFUSED';
  constructor(readonly address: string) {
    super('address refused by the SSRF guard');
  }
}

/**
 * Failures before the response headers were complete. undici reports a Content-Length that llhttp
 * refuses (over 2^64 - 1, or repeated with another value) as a body length mismatch, and an
 * unsolicited 100 Continue as a bare "bad response"; neither is about the body.
 */
export function headerFailure(error: unknown): never {
  if (error instanceof undiciErrors.ResponseContentLengthMismatchError) {
    throw new ImageError(
      'DOWNLOAD_FAILED',
      'The image server sent an invalid Content-Length (larger than 2^64 - 1, or repeated with another value).',
      { cause: error },
    );
  }
  if (error instanceof undiciErrors.SocketError && error.message === 'bad response') {
    throw new ImageError(
      'DOWNLOAD_FAILED',
      'The image server sent a response that was not asked for (such as an unsolicited 100 Continue).',
      { cause: error },
    );
  }
  const protocol = /^Response does not match the HTTP\/1\.1 protocol \((.+)\)$/.exec((error as Error).message ?? '');
  if (protocol) {
    throw new ImageError('DOWNLOAD_FAILED', `The image server's response is not valid HTTP/1.1: ${protocol[1]}.`, {
      cause: error,
    });
  }
  throw error;
}

export function toImageError(error: unknown, timedOut: boolean, timeoutMs: number): ImageError {
  if (error instanceof ImageError) return error;
  if (findInChain(error, (e) => e instanceof AddressRefusedError))
    return new ImageError('URL_FORBIDDEN', undefined, { cause: error });
  const timeoutCodes = ['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'];
  if (timedOut || findInChain(error, (e) => timeoutCodes.includes((e as { code?: string }).code ?? ''))) {
    return new ImageError('DOWNLOAD_TIMEOUT', `The download did not finish within ${timeoutMs / 1000} s.`, {
      cause: error,
    });
  }
  if (findInChain(error, (e) => (e as { code?: string }).code === 'ENOTFOUND')) {
    return new ImageError('DOWNLOAD_FAILED', 'The host name could not be resolved.', { cause: error });
  }
  if (error instanceof undiciErrors.SocketError && error.message === 'other side closed') {
    return new ImageError('DOWNLOAD_FAILED', 'The image server closed the connection before the image was complete.', {
      cause: error,
    });
  }
  if (error instanceof undiciErrors.ResponseContentLengthMismatchError) {
    return new ImageError('DOWNLOAD_FAILED', 'The image server sent a body that does not match its Content-Length.', {
      cause: error,
    });
  }
  return new ImageError('DOWNLOAD_FAILED', undefined, { cause: error });
}

function findInChain(error: unknown, test: (e: object) => boolean): boolean {
  for (
    let e = error, depth = 0;
    e && typeof e === 'object' && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    if (test(e)) return true;
  }
  return false;
}
