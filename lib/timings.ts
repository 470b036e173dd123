/** Where a request's time went, as logs, metrics and the Server-Timing header report it. */

export interface StageTimings {
  images: number;
  /** Summed over the request's images (downloads and decodes run concurrently). */
  downloadMs: number;
  decodeMs: number;
  /** Longest wait of the request's images for a free engine. */
  queueMs: number;
  /** Time the model calls took. */
  inferenceMs: number;
  /** Size of each model call that ran this request's images. */
  batchSizes: number[];
}

/** Milliseconds to one decimal, for logs and headers. */
export const round = (ms: number) => Math.round(ms * 10) / 10;

export function roundTimings(timings: StageTimings): StageTimings {
  return {
    ...timings,
    downloadMs: round(timings.downloadMs),
    decodeMs: round(timings.decodeMs),
    queueMs: round(timings.queueMs),
    inferenceMs: round(timings.inferenceMs),
  };
}

export function serverTimingHeader(timings: StageTimings): string {
  const batches = timings.batchSizes.join(' ');
  return (
    `download;dur=${round(timings.downloadMs)}, decode;dur=${round(timings.decodeMs)}, ` +
    `queue;dur=${round(timings.queueMs)}, inference;dur=${round(timings.inferenceMs)};desc="batches ${batches}"`
  );
}
