/** Probabilities -> the API's predictions: the k most probable classes, scores rounded to 4 decimals. */
import type { Prediction } from '../schemas.ts';
import type { Label } from './model-folder.ts';

export type { Prediction };

export function topPredictions(probabilities: Float32Array, labels: ReadonlyArray<Label>, k: number): Prediction[] {
  // k is at most 10: keeping a small sorted list beats sorting 1000 values.
  const best: Array<{ index: number; p: number }> = [];
  probabilities.forEach((p, index) => {
    if (best.length === k && p <= best[k - 1]!.p) return;
    let at = best.findIndex((entry) => p > entry.p);
    if (at === -1) at = best.length;
    best.splice(at, 0, { index, p });
    if (best.length > k) best.pop();
  });
  return best.map(({ index, p }) => ({ score: Math.round(p * 1e4) / 1e4, ...labels[index]! }));
}
