/**
 * The images of one request -> model-ready pixels, each image on its own: a failure is recorded for
 * its index and the others go on, so a 400 can name every image that failed and why. Downloads run
 * at most THREAD_COUNT at a time per request; decoding runs on sharp's thread pool.
 */
import { ImageError } from '../errors.ts';
import { decodeBase64Image } from './base64.ts';
import { type TargetSize, decodeImage } from './decode.ts';
import type { Downloader } from './download.ts';
import { semaphore } from '../semaphore.ts';

export type ImageSource = { url: string; data?: undefined } | { data: string; url?: undefined };

export type RetrievedImage =
  | { ok: true; pixels: Buffer; downloadMs: number; decodeMs: number }
  | { ok: false; error: ImageError; downloadMs: number; decodeMs: number };

export interface RetrievalLimits {
  downloadConcurrency: number;
  maxImageBytes: number;
  maxImagePixels: number;
}

export type ImageRetriever = (
  sources: ReadonlyArray<ImageSource>,
  size: TargetSize,
  signal?: AbortSignal,
) => Promise<RetrievedImage[]>;

export function createImageRetriever(limits: RetrievalLimits, downloader: Downloader): ImageRetriever {
  return async (sources, size, signal) => {
    const slot = semaphore(limits.downloadConcurrency);
    return Promise.all(
      sources.map(async (source): Promise<RetrievedImage> => {
        const started = performance.now();
        let fetched: number | undefined;
        try {
          const bytes =
            source.url !== undefined
              ? await slot(() => downloader.download(source.url, signal))
              : takeBase64(source, limits.maxImageBytes);
          fetched = performance.now();
          const pixels = await decodeImage(bytes, size, { maxPixels: limits.maxImagePixels });
          return { ok: true, pixels, downloadMs: fetched - started, decodeMs: performance.now() - fetched };
        } catch (error) {
          if (!(error instanceof ImageError)) throw error;
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
 * Decodes an image's base64 and drops the request's reference to the text. Under load a request
 * waits for the model far longer than decoding takes, and these strings are most of its memory
 * (a megabyte or more per photo); released here, they are collected long before it is answered.
 */
function takeBase64(source: { data: string }, maxBytes: number): Buffer {
  const bytes = decodeBase64Image(source.data, maxBytes);
  (source as { data?: string }).data = undefined;
  return bytes;
}
