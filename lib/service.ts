/**
 * The prediction use case, free of any transport: validated request in, response body and stage
 * timings out, or a ServiceError. The HTTP server and the Lambda handlers are thin adapters over it;
 * the `classify` command line uses its per-image form, classifyEach, so one bad file fails alone.
 */
import { throwIfPastDeadline } from './deadline.ts';
import { type ImageError, imagesRejected } from './errors.ts';
import type { ImageRetriever, RetrievableSource, Trace } from './images/retrieve.ts';
import type { Classifier } from './model/classifier.ts';
import { type Prediction, topPredictions } from './model/predictions.ts';
import type { ImageResult, PredictResponse } from './schemas.ts';
import type { StageTimings } from './timings.ts';
import type { PredictRequest } from './validation.ts';

export type { ImageResult, PredictResponse };

export interface PredictResult {
  body: PredictResponse;
  timings: StageTimings;
}

export interface PredictDeps {
  classifier: Classifier;
  retrieve: ImageRetriever;
  /** Traces the inference (the retriever traces downloads and decodes); absent, it runs untraced. */
  trace?: Trace;
}

/** What classifyEach takes: PredictRequest, or sources the API does not allow (files) for the command line. */
export interface ClassifyRequest {
  images: ReadonlyArray<RetrievableSource>;
  top_k: number;
}

/** One image's result, or why it failed. */
export type ImageOutcome = { ok: true; result: ImageResult } | { ok: false; error: ImageError };

export interface ClassifyEachResult {
  /** One per image, in request order. */
  outcomes: ImageOutcome[];
  timings: StageTimings;
}

export interface ClassifyEachOptions {
  /**
   * When any image fails, throw imagesRejected naming every failure, before the model runs: the
   * API answers a 400 for the whole request, so classifying the others would be wasted work.
   */
  allOrNothing?: boolean;
}

/** The API's use case: every image classified, or a 400 (IMAGES_REJECTED) naming each that failed. */
export async function predict(
  request: PredictRequest,
  deps: PredictDeps,
  signal?: AbortSignal,
): Promise<PredictResult> {
  const { outcomes, timings } = await classifyEach(request, deps, signal, { allOrNothing: true });
  // allOrNothing has thrown already when any failed; this keeps the types honest.
  const failures = outcomes.flatMap((outcome, index) => (outcome.ok ? [] : [{ index, error: outcome.error }]));
  if (failures.length > 0) throw imagesRejected(failures);
  return { body: { images: outcomes.flatMap((outcome) => (outcome.ok ? [outcome.result] : [])) }, timings };
}

/** Each image on its own: the ones that could be retrieved are classified, the others say why not. */
export async function classifyEach(
  request: ClassifyRequest,
  deps: PredictDeps,
  signal?: AbortSignal,
  options: ClassifyEachOptions = {},
): Promise<ClassifyEachResult> {
  const timings: StageTimings = {
    images: request.images.length,
    downloadMs: 0,
    decodeMs: 0,
    queueMs: 0,
    inferenceMs: 0,
    batchSizes: [],
  };
  if (request.images.length === 0) return { outcomes: [], timings };

  const retrieved = await deps.retrieve(request.images, deps.classifier.info.input, signal);
  for (const image of retrieved) {
    timings.downloadMs += image.downloadMs;
    timings.decodeMs += image.decodeMs;
  }
  // Downloads cut short by the deadline fail as downloads; the request's answer is the deadline's.
  throwIfPastDeadline(signal);
  const failures = retrieved.flatMap((image, index) => (image.ok ? [] : [{ index, error: image.error }]));
  if (options.allOrNothing && failures.length > 0) throw imagesRejected(failures);

  const pixels = retrieved.flatMap((image) => (image.ok ? [image.pixels] : []));
  const results: ImageResult[] = [];
  if (pixels.length > 0) {
    const classify = () => deps.classifier.classify(pixels, signal);
    const { probabilities, batchSizes, queueMs, inferenceMs } = await (deps.trace
      ? deps.trace('inference', classify)
      : classify());
    Object.assign(timings, { batchSizes, queueMs, inferenceMs });
    for (const p of probabilities) {
      const predictions = topPredictions(p, deps.classifier.labels, request.top_k);
      const [best] = predictions as [Prediction];
      results.push(request.top_k > 1 ? { ...best, predictions } : best);
    }
  }

  let next = 0;
  const outcomes = retrieved.map(
    (image): ImageOutcome => (image.ok ? { ok: true, result: results[next++]! } : { ok: false, error: image.error }),
  );
  return { outcomes, timings };
}
