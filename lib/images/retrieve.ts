/**
 * The images of one request -> model-ready pixels, each image on its own: a failure is recorded for
 * its index and the others go on, so a 400 can name every image that failed and why. Downloads run
 * at most THREAD_COUNT at a time per request; decoding runs on sharp's thread pool. Files are a
 * source only for a retriever created with `files: true` (the `classify` command line), S3 objects
 * only for one created with an `s3` reader (batch jobs); never the API's.
 */
import { ImageError, imageTooLarge } from '../errors.ts';
import { takeLiftedBase64 } from '../json-base64.ts';
import { decodeBase64Image } from './base64.ts';
import { type TargetSize, decodeImage } from './decode.ts';
import type { ImageInput } from '../schemas.ts';
import type { DecodeBudget } from './decode-budget.ts';
import type { Downloader } from './download.ts';
import { readImageFile } from './read-file.ts';
import { semaphore } from '../semaphore.ts';

/** An image of an API request: exactly one of url or data (the request schema allows nothing else). */
export type ImageSource = ImageInput & { file?: undefined; s3?: undefined };

/** A local file, by path: the command line's, never reachable from the API. */
export type FileSource = { file: string; url?: undefined; data?: undefined; s3?: undefined };

/** Where an S3 object is. */
export interface S3Location {
  bucket: string;
  key: string;
}

/** An S3 object: a batch job's, never reachable from the API. */
export type S3Source = { s3: S3Location; url?: undefined; data?: undefined; file?: undefined };

export type RetrievableSource = ImageSource | FileSource | S3Source;

/**
 * Reads an S3 object's bytes, refusing more than `maxBytes` (IMAGE_TOO_LARGE); a missing or unreadable
 * object is an ImageError (OBJECT_*), anything else (S3 failing, the network) is thrown as is.
 */
export type S3ObjectReader = (location: S3Location, maxBytes: number, signal?: AbortSignal) => Promise<Buffer>;

export type RetrievedImage =
  | { ok: true; pixels: Buffer; downloadMs: number; decodeMs: number }
  | { ok: false; error: ImageError; downloadMs: number; decodeMs: number };

/**
 * Runs `work` as a named stage of a trace (a span, an X-Ray subsegment) and returns its result. The
 * core calls it, when given, for each download, decode and inference, knowing nothing of the
 * tracer: the Lambda functions wire one in when tracing is on; without it nothing is traced.
 */
export type Trace = <T>(name: 'download' | 'decode' | 'inference', work: () => Promise<T>) => Promise<T>;

export interface RetrievalLimits {
  downloadConcurrency: number;
  maxImageBytes: number;
  maxImagePixels: number;
  /** Longest one decode may run; decode.ts has a default. */
  decodeTimeoutMs?: number;
  /** Decode memory shared by every request of the process; without it, decodes are not bounded. */
  decodeBudget?: DecodeBudget;
  /** Traces each download and decode (see Trace); absent, they run untraced. */
  trace?: Trace;
}

export interface RetrieverOptions {
  /** Accept `{ file }` sources and read them from disk: the command line only, never a server. */
  files?: boolean;
  /** Accept `{ s3 }` sources, read with this: batch jobs only, never a server. */
  s3?: S3ObjectReader;
}

export type ImageRetriever = (
  sources: ReadonlyArray<RetrievableSource>,
  size: TargetSize,
  signal?: AbortSignal,
) => Promise<RetrievedImage[]>;

/** A file source given to a retriever that does not take files: a bug, refused before anything is read. */
export class FileSourcesDisabledError extends Error {
  override readonly name = 'FileSourcesDisabledError';
  constructor() {
    super('This image retriever does not read files: file sources are enabled only for the command line.');
  }
}

/** An S3 source given to a retriever without an S3 reader: a bug, refused before anything is read. */
export class S3SourcesDisabledError extends Error {
  override readonly name = 'S3SourcesDisabledError';
  constructor() {
    super('This image retriever does not read S3 objects: S3 sources are enabled only for batch jobs.');
  }
}

export function createImageRetriever(
  limits: RetrievalLimits,
  downloader: Downloader,
  options: RetrieverOptions = {},
): ImageRetriever {
  const files = options.files === true;
  const readObject = options.s3;
  const trace: Trace = limits.trace ?? ((_name, work) => work());
  return async (sources, size, signal) => {
    if (!files && sources.some((source) => source.file !== undefined)) throw new FileSourcesDisabledError();
    if (!readObject && sources.some((source) => source.s3 !== undefined)) throw new S3SourcesDisabledError();
    const slot = semaphore(limits.downloadConcurrency);
    // An error that fails the whole request (no decode memory in time: a 503) stops its other images
    // too, so they give back their place in the download and decode queues at once.
    const requestFailed = new AbortController();
    const imagesSignal = signal ? AbortSignal.any([signal, requestFailed.signal]) : requestFailed.signal;
    return Promise.all(
      sources.map(async (source): Promise<RetrievedImage> => {
        const started = performance.now();
        let fetched: number | undefined;
        const { file, url, s3 } = source;
        // Memory of the body parser's to give back once decoded (json-base64.ts).
        let release: (() => void) | undefined;
        try {
          const bytes =
            file !== undefined
              ? await readImageFile(file, limits.maxImageBytes)
              : s3 !== undefined
                ? await slot(() => trace('download', () => readObject!(s3, limits.maxImageBytes, imagesSignal)))
                : url !== undefined
                  ? await slot(() => trace('download', () => downloader.download(url, imagesSignal)))
                  : takeBase64(source, limits.maxImageBytes, (done) => {
                      release = done;
                    });
          fetched = performance.now();
          const pixels = await trace('decode', () =>
            decodeImage(bytes, size, {
              maxPixels: limits.maxImagePixels,
              budget: limits.decodeBudget,
              timeoutMs: limits.decodeTimeoutMs,
              signal: imagesSignal,
            }),
          );
          // Only after a decode that finished: one stopped early (a deadline) may still be reading.
          release?.();
          return { ok: true, pixels, downloadMs: fetched - started, decodeMs: performance.now() - fetched };
        } catch (error) {
          if (!(error instanceof ImageError)) {
            requestFailed.abort(error);
            throw error;
          }
          const now = performance.now();
          return {
            ok: false,
            error,
            downloadMs: (fetched ?? now) - started,
            decodeMs: fetched === undefined ? 0 : now - fetched,
          };
        }
      }),
    );
  };
}

/**
 * Decodes an image's base64 (or takes the bytes the body parser already decoded, json-base64.ts)
 * and drops the request's reference to the text. Under load a request
 * waits for the model far longer than decoding takes, and these strings are most of its memory
 * (a megabyte or more per photo); released here, they are collected long before it is answered.
 */
function takeBase64(source: { data: string }, maxBytes: number, onRelease: (release: () => void) => void): Buffer {
  const lifted = takeLiftedBase64(source);
  if (lifted && lifted.data.length > maxBytes) throw imageTooLarge(maxBytes);
  if (lifted) onRelease(lifted.release);
  const bytes = lifted?.data ?? decodeBase64Image(source.data, maxBytes);
  (source as { data?: string }).data = undefined;
  return bytes;
}
