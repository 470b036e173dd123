import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type InputSpec,
  parseModelConfig,
  resolveInput,
  softmaxRows,
  toInputBatch,
} from '../../lib/model/model-spec.ts';

const spec = (overrides: Partial<InputSpec> = {}): InputSpec => ({
  ...parseModelConfig({}).input,
  width: 2,
  height: 1,
  channels: 3,
  ...overrides,
});
// Two pixels: (0, 127.5-ish, 255) and (255, 0, 51).
const pixels = new Uint8Array([0, 128, 255, 255, 0, 51]);
const near = (actual: Float32Array, expected: number[]) => {
  for (const [i, value] of expected.entries())
    assert.ok(Math.abs(actual[i]! - value) < 1e-5, `${i}: ${actual[i]} vs ${value}`);
};

describe('model config', () => {
  test('defaults to MobileNetV2: NHWC, RGB, x / 127.5 - 1, probabilities', () => {
    assert.deepEqual(parseModelConfig({}), {
      input: { layout: 'NHWC', channelOrder: 'RGB', normalize: { scale: 127.5, mean: [1, 1, 1], std: [1, 1, 1] } },
      output: 'probabilities',
    });
  });

  test('names every bad field', () => {
    assert.throws(
      () => parseModelConfig({ input: { layout: 'CHW', normalize: { mean: [1, 2] } }, output: 'scores', extra: 1 }),
      (error: unknown) => {
        const message = (error as Error).message;
        for (const part of [
          'input.layout must be equal to one of the allowed values (NHWC, NCHW)',
          'input.normalize.mean must NOT have fewer than 3 items',
          'output must be equal to one of the allowed values (probabilities, logits)',
          'must NOT have additional properties: extra',
        ]) {
          assert.ok(message.includes(part), `${part} in ${message}`);
        }
        return true;
      },
    );
    assert.throws(
      () => parseModelConfig({ input: { normalize: { std: [1, 0, 1] } } }),
      /input\.normalize\.std\.1 must be > 0/,
    );
  });
});

describe('toInputBatch', () => {
  test('NHWC, RGB, x / 127.5 - 1 (MobileNetV2)', () => {
    near(toInputBatch([pixels], spec()), [-1, 128 / 127.5 - 1, 1, 1, -1, 51 / 127.5 - 1]);
  });

  test('NCHW puts each channel in its own plane', () => {
    near(toInputBatch([pixels], spec({ layout: 'NCHW' })), [-1, 1, 128 / 127.5 - 1, -1, 1, 51 / 127.5 - 1]);
  });

  test('BGR reverses the channels', () => {
    near(toInputBatch([pixels], spec({ channelOrder: 'BGR' })), [1, 128 / 127.5 - 1, -1, 51 / 127.5 - 1, -1, 1]);
  });

  test('ImageNet mean and std on a 0..1 scale, as torchvision', () => {
    const mean: [number, number, number] = [0.485, 0.456, 0.406];
    const std: [number, number, number] = [0.229, 0.224, 0.225];
    const out = toInputBatch([pixels], spec({ layout: 'NCHW', normalize: { scale: 255, mean, std } }));
    near(out, [
      (0 - 0.485) / 0.229,
      (1 - 0.485) / 0.229,
      (128 / 255 - 0.456) / 0.224,
      (0 - 0.456) / 0.224,
      (1 - 0.406) / 0.225,
      (51 / 255 - 0.406) / 0.225,
    ]);
  });

  test('packs several images one after the other', () => {
    assert.equal(toInputBatch([pixels, pixels, pixels], spec()).length, 18);
    assert.throws(() => toInputBatch([pixels.subarray(0, 3)], spec()), /takes 6/);
  });
});

describe('softmaxRows', () => {
  test('turns each row of logits into probabilities', () => {
    const out = softmaxRows(new Float32Array([2, -2, 0, 1000, 1000, 1000]), 3);
    near(out, [
      Math.exp(2) / (Math.exp(2) + Math.exp(-2) + 1),
      Math.exp(-2) / (Math.exp(2) + Math.exp(-2) + 1),
      1 / (Math.exp(2) + Math.exp(-2) + 1),
      1 / 3,
      1 / 3,
      1 / 3,
    ]);
  });
});

describe('resolveInput', () => {
  const config = parseModelConfig({});
  test('reads the size from an NHWC or NCHW shape', () => {
    assert.deepEqual(
      [resolveInput([null, 224, 200, 3], config, 'm').width, resolveInput([null, 224, 200, 3], config, 'm').height],
      [200, 224],
    );
    const nchw = parseModelConfig({ input: { layout: 'NCHW' } });
    assert.deepEqual(
      [resolveInput(['N', 3, 32, 48], nchw, 'm').width, resolveInput(['N', 3, 32, 48], nchw, 'm').height],
      [48, 32],
    );
  });

  test('takes the size from the config when the model leaves it open, and refuses neither or a mismatch', () => {
    const sized = parseModelConfig({ input: { width: 64, height: 64 } });
    assert.equal(resolveInput([-1, -1, -1, 3], sized, 'm').width, 64);
    assert.throws(
      () => resolveInput([-1, 'H', 'W', 3], config, 'm'),
      /does not fix its input width and height; set input\.width and input\.height/,
    );
    assert.throws(
      () => resolveInput([-1, 32, 'W', 3], config, 'm'),
      /does not fix its input width; set input\.width in/,
    );
    assert.throws(() => resolveInput([-1, 32, 32, 3], sized, 'm'), /input width is 32 but model.config.json says 64/);
  });

  test('refuses a channel count other than 3, hinting at the layout', () => {
    assert.throws(() => resolveInput([null, 3, 224, 224], config, 'm'), /takes 224 channels in NHWC layout.*"layout"/);
  });
});
