import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chunkOfPartKey, isImageKey, manifestKey, parseS3Url, partKey } from '../../lib/batch/locations.ts';
import { MalformedMessageError, parseChunkMessage } from '../../lib/batch/message.ts';
import { newJobId } from '../../lib/batch/submit.ts';
import { BatchUsageError, parseBatchArgs } from '../../lib/cli/batch.ts';

const message = {
  jobId: '20250102T030405Z-1a2b3c4d',
  chunk: 2,
  input: { bucket: 'in' },
  keys: ['a.jpg', 'b/c.png'],
  output: { bucket: 'out', prefix: 'jobs' },
  top_k: 3,
};

describe('batch job locations', () => {
  test('s3:// URLs: bucket and prefix (maybe empty); anything else refused', () => {
    assert.deepEqual(parseS3Url('s3://my-bucket/photos/2024/'), { bucket: 'my-bucket', prefix: 'photos/2024/' });
    assert.deepEqual(parseS3Url('s3://my-bucket'), { bucket: 'my-bucket', prefix: '' });
    assert.deepEqual(parseS3Url('s3://my-bucket/'), { bucket: 'my-bucket', prefix: '' });
    for (const bad of ['my-bucket/photos', 'https://my-bucket/x', 's3://', 's3:///x', 's3://Bad_Bucket/x'])
      assert.throws(() => parseS3Url(bad), /Expected s3:\/\/<bucket>\/<prefix>/, bad);
  });

  test('image keys by extension in any case, as classify takes files', () => {
    for (const key of ['a.jpg', 'x/b.JPEG', 'c.png', 'd.webp', 'e.gif', 'f.tif', 'g.TIFF', 'h.avif', 'i.bmp'])
      assert.ok(isImageKey(key), key);
    for (const key of ['notes.txt', 'folder/', 'jpg', 'a.jpg/manifest.json', 'part-000001.jsonl', 'a.heic'])
      assert.ok(!isImageKey(key), key);
  });

  test("a job's files: manifest and zero-padded parts under <prefix>/<job-id>/", () => {
    assert.equal(manifestKey('jobs', 'j1'), 'jobs/j1/manifest.json');
    assert.equal(manifestKey('jobs/', 'j1'), 'jobs/j1/manifest.json');
    assert.equal(manifestKey('', 'j1'), 'j1/manifest.json');
    assert.equal(partKey('jobs', 'j1', 7), 'jobs/j1/part-000007.jsonl');
    assert.ok(partKey('', 'j', 9) < partKey('', 'j', 10), 'parts sort by name');
    assert.equal(chunkOfPartKey('jobs/j1/part-000042.jsonl'), 42);
    assert.equal(chunkOfPartKey('jobs/j1/manifest.json'), undefined);
  });

  test('job ids sort by time and are unique', () => {
    const id = newJobId(new Date('2025-01-02T03:04:05.678Z'));
    assert.match(id, /^20250102T030405Z-[0-9a-f]{8}$/);
    assert.notEqual(newJobId(), newJobId());
  });
});

describe('chunk messages', () => {
  test('a valid message, from its JSON body or parsed', () => {
    assert.deepEqual(parseChunkMessage(JSON.stringify(message)), message);
    assert.deepEqual(parseChunkMessage({ ...message, extra: true }), message);
  });

  test('a malformed message is refused, naming the field', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['not json', /not JSON/],
      ['[1]', /not a JSON object/],
      [{ ...message, jobId: 'a/b' }, /jobId/],
      [{ ...message, chunk: -1 }, /chunk/],
      [{ ...message, chunk: 1.5 }, /chunk/],
      [{ ...message, input: {} }, /input\.bucket/],
      [{ ...message, keys: [] }, /keys/],
      [{ ...message, keys: ['a.jpg', 3] }, /keys/],
      [{ ...message, output: { bucket: 'out' } }, /output\.prefix/],
      [{ ...message, top_k: 11 }, /top_k/],
    ];
    for (const [input, pattern] of cases)
      assert.throws(
        () => parseChunkMessage(input),
        (error: unknown) => {
          assert.ok(error instanceof MalformedMessageError);
          assert.match(error.message, pattern);
          return true;
        },
      );
  });
});

describe('classify batch arguments', () => {
  const output = { bucket: 'out', prefix: 'jobs' };

  test('submit: input, output, queue or stage, chunk and top with defaults', () => {
    assert.deepEqual(
      parseBatchArgs(['submit', 's3://inp/photos/', '--output', 's3://out/jobs', '--queue', 'http://q']),
      {
        command: 'submit',
        input: { bucket: 'inp', prefix: 'photos/' },
        output,
        queue: { url: 'http://q' },
        chunk: 64,
        top: 1,
        json: false,
        modelDir: undefined,
      },
    );
    const staged = parseBatchArgs([
      'submit',
      's3://inp',
      '--output',
      's3://out/jobs',
      '--stage',
      'prod',
      '--chunk',
      '8',
    ]);
    assert.deepEqual(staged.command === 'submit' && [staged.queue, staged.chunk], [{ stage: 'prod' }, 8]);
  });

  test('work, status and results', () => {
    assert.deepEqual(parseBatchArgs(['work', '--queue', 'https://q', '--until-empty', '--wait', '0']), {
      command: 'work',
      queue: { url: 'https://q' },
      untilEmpty: true,
      waitSeconds: 0,
      visibilitySeconds: 60,
      modelDir: undefined,
      engine: undefined,
    });
    assert.deepEqual(parseBatchArgs(['status', 'job-1', '--output', 's3://out/jobs', '--json']), {
      command: 'status',
      jobId: 'job-1',
      output,
      json: true,
    });
    assert.deepEqual(parseBatchArgs(['results', 'job-1', '--output', 's3://out/jobs']), {
      command: 'results',
      jobId: 'job-1',
      output,
      json: false,
    });
    assert.deepEqual(parseBatchArgs([]), { command: 'help' });
    assert.deepEqual(parseBatchArgs(['work', '--help']), { command: 'help' });
  });

  test('usage errors name what is wrong', () => {
    const cases: Array<[string[], RegExp]> = [
      [['launch'], /Unknown batch command "launch"/],
      [['submit', 's3://inp', '--queue', 'http://q'], /needs --output/],
      [['submit', 's3://inp', '--output', 's3://out'], /one of --queue <url> or --stage <name>/],
      [['submit', 's3://inp', '--output', 's3://out', '--queue', 'http://q', '--stage', 'x'], /one of --queue/],
      [['submit', 'in/photos', '--output', 's3://out', '--queue', 'http://q'], /The input: Expected s3:/],
      [['submit', 's3://inp', '--output', 's3://out', '--queue', 'q'], /--queue must be an SQS queue URL/],
      [['submit', 's3://inp', '--output', 's3://out', '--queue', 'http://q', '--chunk', '0'], /--chunk must be/],
      [['submit', 's3://inp', '--output', 's3://out', '--queue', 'http://q', '--top', '11'], /--top must be/],
      [['work', '--queue', 'http://q', '--wait', '21'], /--wait must be an integer from 0 to 20/],
      [['work', '--queue', 'http://q', '--output', 's3://out'], /batch work does not take --output/],
      [['work', '--queue', 'http://q', '--engine', 'gpu'], /--engine must be one of/],
      [['work', 'extra', '--queue', 'http://q'], /batch work takes none/],
      [['status', '--output', 's3://out'], /takes one job id/],
      [['status', '../x', '--output', 's3://out'], /is not a job id/],
      [['results', 'j', '--output', 's3://out', '--nope'], /Unknown option '--nope'/],
    ];
    for (const [argv, pattern] of cases)
      assert.throws(
        () => parseBatchArgs(argv),
        (error: unknown) => {
          assert.ok(error instanceof BatchUsageError, argv.join(' '));
          assert.match(error.message, pattern, argv.join(' '));
          return true;
        },
      );
  });
});
