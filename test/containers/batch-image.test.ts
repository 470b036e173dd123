/**
 * The batch function in the Lambda image: the image lambda-image.test.ts builds (the same tag and
 * build: whichever runs second finds every layer cached), run with serverless.yml's command for
 * it, dist/batch.handler, behind the Runtime Interface Emulator, and invoked with SQS events whose
 * records point at moto's S3 on the host (the container shares its network: 127.0.0.1 is the host's).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { ChunkMessage } from '../../lib/batch/message.ts';
import {
  type BatchWorld,
  assertPartLines,
  imageKeys,
  readParts,
  sqsRecord,
  startBatchWorld,
} from '../helpers/batch-fixtures.ts';
import { type LambdaContainer, buildImage, removeContainer, startLambda } from '../helpers/docker.ts';

const TAG = 'classifier-lambda:test';
const INPUT = 'images';
const OUTPUT = 'results';
const KEYS = imageKeys();

const record = (messageId: string, message: ChunkMessage): SQSRecord =>
  sqsRecord(
    { MessageId: messageId, ReceiptHandle: `receipt-${messageId}`, Body: JSON.stringify(message) },
    'arn:aws:sqs:us-east-1:123456789012:image-classifier-test-BatchQueue',
  );

const chunk = (chunkNumber: number, keys: string[], outputBucket = OUTPUT): ChunkMessage => ({
  jobId: 'image-job',
  chunk: chunkNumber,
  input: { bucket: INPUT },
  keys,
  output: { bucket: outputBucket, prefix: 'jobs' },
  top_k: 3,
});

describe('the Lambda image as the batch function (dist/batch.handler, moto on the host)', () => {
  let world: BatchWorld;
  let batch: LambdaContainer;
  const measured: string[] = [];

  before(async () => {
    const seconds = await buildImage('lambda', TAG);
    measured.push(`docker build --target lambda (the same tag as lambda-image.test.ts): ${seconds.toFixed(1)} s`);
    world = await startBatchWorld({ input: INPUT, output: OUTPUT });
    // moto's endpoint, dummy credentials and region, path-style S3: what a deployment gets from AWS.
    batch = await startLambda(TAG, ['dist/batch.handler'], world.moto.env);
  });
  after(async () => {
    if (batch) await removeContainer(batch.id);
    await world?.close();
  });

  test('works the records of an SQS event into parts in S3; a record that fails is reported alone', async (t) => {
    const event: SQSEvent = {
      Records: [
        record('m-0', chunk(0, KEYS.slice(0, 5))),
        record('m-1', chunk(1, KEYS.slice(5), 'no-such-bucket')),
        record('m-2', chunk(2, KEYS.slice(5))),
      ],
    };
    const started = performance.now();
    const response = await batch.invoke(event);
    measured.push(`first invocation (init included), 10 images: ${Math.round(performance.now() - started)} ms`);
    assert.deepEqual(response, { batchItemFailures: [{ itemIdentifier: 'm-1' }] });

    const { keys, lines } = await readParts(world.s3, OUTPUT, 'jobs/image-job/');
    assert.deepEqual(keys, ['jobs/image-job/part-000000.jsonl', 'jobs/image-job/part-000002.jsonl']);
    assertPartLines(lines, KEYS, 3);

    const again = performance.now();
    assert.deepEqual(await batch.invoke({ Records: [record('m-3', chunk(3, KEYS))] }), { batchItemFailures: [] });
    measured.push(`warm invocation, 10 images: ${Math.round(performance.now() - again)} ms`);
    for (const line of measured) t.diagnostic(line);
  });

  test('an event that is not from SQS is an error of the invocation, not an empty success', async () => {
    const response = await batch.invoke({});
    assert.equal(response.errorType, 'TypeError');
    assert.match(response.errorMessage, /Not an SQS event/);
  });
});
