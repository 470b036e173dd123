import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runInSlices } from '../../lib/model/engines/engine.ts';

// Images of 2 values each; the "model" outputs 3 values per image: its first input value, its second, and the slice
// size it ran in.
const IMAGE_SIZE = 2;
const CLASSES = 3;

function recordingModel() {
  const slices: number[] = [];
  const run = async (batch: Float32Array, count: number) => {
    slices.push(count);
    assert.equal(batch.length, count * IMAGE_SIZE);
    const output = new Float32Array(count * CLASSES);
    for (let i = 0; i < count; i++)
      output.set([batch[i * IMAGE_SIZE]!, batch[i * IMAGE_SIZE + 1]!, count], i * CLASSES);
    return output;
  };
  return { run, slices };
}

const images = (count: number) => Float32Array.from({ length: count * IMAGE_SIZE }, (_, i) => i);

describe('runInSlices', () => {
  test('runs a batch in slices of at most the slice size, the last shorter, keeping the images in order', async () => {
    const model = recordingModel();
    const output = await runInSlices(model.run, 2, IMAGE_SIZE, CLASSES)(images(5), 5);
    assert.deepEqual(model.slices, [2, 2, 1]);
    assert.deepEqual([...output], [0, 1, 2, 2, 3, 2, 4, 5, 2, 6, 7, 2, 8, 9, 1]);
  });

  test('hands a batch no larger than the slice over as it is', async () => {
    const model = recordingModel();
    const batch = images(2);
    const output = await runInSlices(model.run, 2, IMAGE_SIZE, CLASSES)(batch, 2);
    assert.deepEqual(model.slices, [2]);
    assert.deepEqual([...output], [0, 1, 2, 2, 3, 2]);
  });

  test('an unbounded slice runs the whole batch at once', async () => {
    const model = recordingModel();
    await runInSlices(model.run, Number.POSITIVE_INFINITY, IMAGE_SIZE, CLASSES)(images(8), 8);
    assert.deepEqual(model.slices, [8]);
  });
});
