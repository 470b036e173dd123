/**
 * The prediction use case, free of any transport: validated request in, response body and stage
 * timings out, or a ServiceError. The HTTP server and the Lambda handlers are thin adapters over it.
 */
import { imagesRejected } from './errors.ts';
import type { ImageRetriever } from './images/retrieve.ts';
import type { Classifier } from './model/classifier.ts';
import { type Prediction, topPredictions } from './model/predictions.ts';
import type { StageTimings } from './timings.ts';
import type { PredictRequest } from './validation.ts';

export interface ImageResult extends Prediction {
  predictions?: Prediction[];
}

export interface PredictResponse {
  images: ImageResult[];
}

export interface PredictResult {
  body: PredictResponse;
  timings: StageTimings;
}

export interface PredictDeps {
  classifier: Classifier;
  retrieve: ImageRetriever;
}

export async function predict(
  request: PredictRequest,
  deps: PredictDeps,
  signal?: AbortSignal,
): Promise<PredictResult> {
  const timings: StageTimings = {
    images: request.images.length,
    downloadMs: 0,
    decodeMs: 0,
    queueMs: 0,
    inferenceMs: 0,
    batchSizes: [],
  };
  if (request.images.length === 0) return { body: { images: [] }, timings };

  const retrieved = await deps.retrieve(request.images, deps.classifier.info.input, signal);
  for (const image of retrieved) {
    timings.downloadMs += image.downloadMs;
    timings.decodeMs += image.decodeMs;
  }
  const failures = retrieved.flatMap((image, index) => (image.ok ? [] : [{ index, error: image.error }]));
  if (failures.length > 0) throw imagesRejected(failures);

  const { probabilities, batchSizes, queueMs, inferenceMs } = await deps.classifier.classify(
    retrieved.flatMap((image) => (image.ok ? [image.pixels] : [])),
  );
  Object.assign(timings, { batchSizes, queueMs, inferenceMs });

  const images = probabilities.map((p): ImageResult => {
    const predictions = topPredictions(p, deps.classifier.labels, request.top_k);
    const [best] = predictions as [Prediction];
    return request.top_k > 1 ? { ...best, predictions } : best;
  });
  return { body: { images }, timings };
}
