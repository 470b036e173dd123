import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCliArgs } from '../../lib/cli/args.ts';
import { progressBar, shouldShowProgress, table } from '../../lib/cli/output.ts';

describe('classify: arguments', () => {
  test('defaults to top 1, a table, in this process', () => {
    assert.deepEqual(parseCliArgs(['a.jpg']), {
      inputs: ['a.jpg'],
      top: 1,
      json: false,
      endpoint: undefined,
      modelDir: undefined,
      engine: undefined,
      progress: undefined,
      help: false,
    });
  });

  test('reads every flag', () => {
    const options = parseCliArgs([
      '--top',
      '5',
      '--json',
      '--no-progress',
      '--endpoint',
      'https://api.example.com/',
      'dir',
    ]);
    assert.deepEqual(
      [options.top, options.json, options.progress, options.endpoint],
      [5, true, false, 'https://api.example.com'],
    );
  });

  test('refuses what cannot work, naming the flag', () => {
    assert.throws(() => parseCliArgs(['--top', 'x', 'a']), /--top must be an integer/);
    assert.throws(() => parseCliArgs(['--engine', 'gpu', 'a']), /--engine must be one of auto, onnx/);
    assert.throws(() => parseCliArgs(['--endpoint', 'ftp://x', 'a']), /--endpoint must be an http\(s\) URL/);
    assert.throws(
      () => parseCliArgs(['--endpoint', 'http://x', '--engine', 'onnx', 'a']),
      /apply to classifying in this process/,
    );
    assert.throws(() => parseCliArgs(['--unknown', 'a']), /Unknown option '--unknown'/);
    assert.throws(() => parseCliArgs([]), /at least one file/);
  });
});

describe('classify: output', () => {
  test('shows a progress bar only on terminals, for five images or more, unless forced', () => {
    assert.equal(shouldShowProgress({ stdoutIsTTY: true, stderrIsTTY: true, images: 5 }), true);
    assert.equal(shouldShowProgress({ stdoutIsTTY: true, stderrIsTTY: true, images: 4 }), false);
    assert.equal(shouldShowProgress({ stdoutIsTTY: false, stderrIsTTY: true, images: 50 }), false);
    assert.equal(shouldShowProgress({ forced: true, stdoutIsTTY: false, stderrIsTTY: false, images: 1 }), true);
    assert.equal(shouldShowProgress({ forced: false, stdoutIsTTY: true, stderrIsTTY: true, images: 50 }), false);
  });

  test('draws the bar in proportion', () => {
    assert.equal(progressBar(0, 4, 8), '[........] 0/4');
    assert.equal(progressBar(1, 4, 8), '[##......] 1/4');
    assert.equal(progressBar(4, 4, 8), '[########] 4/4');
  });

  test('aligns the table and sums up', () => {
    const out = table(
      [
        { label: 'a.jpg', ok: true, predictions: [{ name: 'tabby', category: 'n1', score: 0.5 }] },
        { label: 'longer/b.jpg', ok: false, code: 'IMAGE_CORRUPT', message: 'The image is truncated or corrupt.' },
      ],
      1,
    );
    assert.equal(
      out,
      [
        'FILE          TOP-1                SCORE',
        'a.jpg         tabby                0.5000',
        'longer/b.jpg  error IMAGE_CORRUPT',
        'longer/b.jpg: The image is truncated or corrupt.',
        '2 images: 1 classified, 1 failed',
      ].join('\n'),
    );
  });
});
