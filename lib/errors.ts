/**
 * Every error the API can answer with, one table per level, and the single wire shape:
 * `{ message, code, errors?: [{ index?, field?, code, message }] }`.
 * Codes are stable: never rename or reuse one. README's error table is checked against these tables.
 */
import type { ErrorBody, ErrorEntry } from './schemas.ts';

/** Errors about the whole request: the code decides the HTTP status. */
export const REQUEST_ERRORS = {
  REQUEST_INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  REQUEST_MALFORMED: { status: 400, message: 'The request could not be read.' },
  EVENT_UNSUPPORTED: {
    status: 400,
    message:
      'The Lambda function was invoked with an event that is not an API Gateway HTTP request (payload 1.0 or 2.0).',
  },
  IMAGES_REJECTED: { status: 400, message: 'One or more images could not be processed.' },
  AUTH_REQUIRED: {
    status: 401,
    message: 'This API needs a key: send Authorization: Bearer <key> or x-api-key: <key>.',
  },
  AUTH_INVALID: { status: 401, message: 'The API key is not valid.' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'The route does not take this method; see the Allow header.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in full in time.' },
  REQUEST_BODY_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  REQUEST_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'The request body must be JSON (Content-Type: application/json).',
  },
  REQUEST_EXPECTATION_FAILED: { status: 417, message: 'The only Expect the service meets is 100-continue.' },
  REQUEST_INVALID: { status: 422, message: 'The request does not match the schema.' },
  REQUEST_TOO_MANY_IMAGES: { status: 422, message: 'The request has too many images.' },
  REQUEST_HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large.' },
  INTERNAL_ERROR: { status: 500, message: 'Internal error.' },
  REQUEST_DEADLINE_EXCEEDED: { status: 504, message: 'The request did not finish in time.' },
  SERVICE_NOT_READY: { status: 503, message: 'The model is still loading; retry shortly.' },
  SERVICE_SHUTTING_DOWN: { status: 503, message: 'The service is shutting down; retry on another instance.' },
  SERVICE_OVERLOADED: {
    status: 503,
    message: 'The service has more images to classify than it can queue; retry shortly.',
  },
  SERVICE_INFERENCE_FAILED: {
    status: 503,
    message: 'The inference worker failed while running these images; retry shortly.',
  },
} as const;

/**
 * Why one field or image of a request failed; reported in `errors[]` with its field or index. The
 * `read` codes are the `classify` command line's, for its files, and batch jobs', for their S3
 * objects (`only: 'batch'`): per file or object, like the others.
 */
export const ENTRY_ERRORS = {
  FIELD_INVALID: { stage: 'request', message: 'The field does not match the schema.' },
  FIELD_UNKNOWN: { stage: 'request', message: 'The field is not part of the API.' },
  IMAGE_SOURCE_INVALID: { stage: 'request', message: 'An image needs exactly one of url or data.' },
  URL_INVALID: { stage: 'download', message: 'The URL is not a valid absolute URL.' },
  URL_SCHEME_UNSUPPORTED: { stage: 'download', message: 'Only http and https URLs are supported.' },
  URL_FORBIDDEN: {
    stage: 'download',
    message: 'The URL points to an address that is not allowed (loopback, private, link-local or reserved).',
  },
  DOWNLOAD_FAILED: { stage: 'download', message: 'The image could not be downloaded.' },
  DOWNLOAD_TIMEOUT: { stage: 'download', message: 'The download took too long.' },
  DOWNLOAD_TOO_MANY_REDIRECTS: { stage: 'download', message: 'The URL redirected too many times.' },
  IMAGE_TOO_LARGE: { stage: 'download', message: 'The image has too many bytes.' },
  IMAGE_DATA_INVALID: { stage: 'decode', message: 'The data is not valid base64.' },
  IMAGE_UNRECOGNIZED: { stage: 'decode', message: 'The bytes are not an image.' },
  IMAGE_UNSUPPORTED_FORMAT: {
    stage: 'decode',
    message: 'The image format is not supported (JPEG, PNG, WebP, GIF, TIFF, AVIF and BMP are).',
  },
  IMAGE_CORRUPT: { stage: 'decode', message: 'The image is truncated or corrupt.' },
  IMAGE_TOO_MANY_PIXELS: { stage: 'decode', message: 'The image has too many pixels.' },
  IMAGE_TOO_COMPLEX: {
    stage: 'decode',
    message: 'The image takes too long to decode (too many progressive scans, or past the decode time limit).',
  },
  // Only from `classify`: files are never read by the API, so it never answers these.
  FILE_NOT_FOUND: { stage: 'read', message: 'No such file or folder.' },
  FILE_UNREADABLE: { stage: 'read', message: 'The file could not be read.' },
  // Only from batch jobs: the API never reads S3 objects, so it never answers these either.
  OBJECT_NOT_FOUND: { stage: 'read', only: 'batch', message: 'No such S3 object (or bucket).' },
  OBJECT_UNREADABLE: { stage: 'read', only: 'batch', message: 'The S3 object could not be read.' },
} as const;

export type RequestErrorCode = keyof typeof REQUEST_ERRORS;
export type EntryErrorCode = keyof typeof ENTRY_ERRORS;
/** Where an image failed: `read` is a file of the command line's or a batch job's object, never the API's. */
export type EntryErrorStage = (typeof ENTRY_ERRORS)[EntryErrorCode]['stage'];

/** The seed's message, kept for requests where an image could not be fetched. */
const DOWNLOAD_FAILED_MESSAGE = 'One or more images could not be downloaded.';

export type { ErrorBody, ErrorEntry };

/** What a 503 asks a client to wait before retrying. */
export const RETRY_AFTER_SECONDS = 1;

interface ServiceErrorOptions {
  errors?: ErrorEntry[];
  cause?: unknown;
  /** Seconds a client should wait before retrying (503s); sent as Retry-After. */
  retryAfterSeconds?: number;
  /** The methods the route takes (405s); sent as Allow. */
  allow?: string[];
  /** The challenge of a 401; sent as WWW-Authenticate. */
  wwwAuthenticate?: string;
}

/** An error answered to the client as is: its message and entries must never carry internals. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly statusCode: number;
  readonly errors: ErrorEntry[] | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly allow: string[] | undefined;
  readonly wwwAuthenticate: string | undefined;

  constructor(
    readonly code: RequestErrorCode,
    message: string = REQUEST_ERRORS[code].message,
    options: ServiceErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.statusCode = REQUEST_ERRORS[code].status;
    this.errors = options.errors;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.allow = options.allow;
    this.wwwAuthenticate = options.wwwAuthenticate;
  }
}

/** Why one image failed. `cause` keeps the third-party error for the log; it never reaches the client. */
export class ImageError extends Error {
  override readonly name = 'ImageError';

  constructor(
    readonly code: EntryErrorCode,
    message: string = ENTRY_ERRORS[code].message,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }

  get stage(): EntryErrorStage {
    return ENTRY_ERRORS[this.code].stage;
  }
}

/** An image over MAX_IMAGE_BYTES, however it arrived. */
export function imageTooLarge(maxBytes: number): ImageError {
  return new ImageError('IMAGE_TOO_LARGE', `The image is larger than ${maxBytes} bytes.`);
}

/** 405 naming the methods the path takes (Allow), or 404 when it takes none. */
export function routeMissing(allow: string[]): ServiceError {
  return allow.length
    ? new ServiceError('METHOD_NOT_ALLOWED', undefined, { allow })
    : new ServiceError('ROUTE_NOT_FOUND');
}

/** One 400 for all the images of a request that failed, naming each index and why. */
export function imagesRejected(failures: ReadonlyArray<{ index: number; error: ImageError }>): ServiceError {
  const sorted = [...failures].sort((a, b) => a.index - b.index);
  const anyDownload = sorted.some(({ error }) => error.stage === 'download');
  return new ServiceError('IMAGES_REJECTED', anyDownload ? DOWNLOAD_FAILED_MESSAGE : undefined, {
    errors: sorted.map(({ index, error }) => ({ index, code: error.code, message: error.message })),
  });
}

/**
 * The status and body for any thrown value. A ServiceError is exposed as is; anything else is a bug
 * and becomes a generic 500, its detail left to the caller's log.
 */
export function toErrorResponse(error: unknown): {
  statusCode: number;
  body: ErrorBody;
  headers: Record<string, string>;
} {
  if (!(error instanceof ServiceError)) {
    return {
      statusCode: 500,
      body: { message: REQUEST_ERRORS.INTERNAL_ERROR.message, code: 'INTERNAL_ERROR' },
      headers: {},
    };
  }
  const body: ErrorBody = { message: error.message, code: error.code };
  if (error.errors?.length) body.errors = error.errors;
  const headers: Record<string, string> = {};
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  if (error.allow) headers.allow = error.allow.join(', ');
  if (error.wwwAuthenticate) headers['www-authenticate'] = error.wwwAuthenticate;
  return { statusCode: error.statusCode, body, headers };
}
