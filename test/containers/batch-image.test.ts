/**
 * The batch function in the Lambda image: the image lambda-image.test.ts builds (the same tag and
 * build: whichever runs second finds every layer cached), run with serverless.yml's command for
 * it, dist/batch.handler, behind the Runtime Interface Emulator, and invoked with SQS events whose
 * records point at moto's S3 on the host (the container shares its network: 127.0.0.1 is the host's).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createS3Client } from '../../lib/batch/aws-clients.ts';
import type { ChunkMessage } from '../../lib/batch/message.ts';
import type { PartLine } from '../../lib/batch/process-chunk.ts';
import { loadConfig } from '../../lib/config.ts';
import { type LambdaContainer, buildImage, removeContainer, startLambda } from '../helpers/docker.ts';
import { expected, fixtureNames, readFixture } from '../helpers/fixtures.ts';
import { type Moto, startMoto } from '../helpers/moto.ts';

const TAG = 'classifier-lambda:test';
const INPUT = 'images';
const OUTPUT = 'results';
const KEYS = fixtureNames.map((name) => `photos/${name}`).sort();

const record = (messageId: string, message: ChunkMessage): SQSRecord => ({
  messageId,
  receiptHandle: `receipt-${messageId}`,
  body: JSON.stringify(message),
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: String(Date.now()),
    SenderId: 'test',
    ApproximateFirstReceiveTimestamp: String(Date.now()),
  },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:image-classifier-test-BatchQueue',
  awsRegion: 'us-east-1',
});

const chunk = (chunkNumber: number, keys: string[], outputBucket = OUTPUT): ChunkMessage => ({
  jobId: 'image-job',
  chunk: chunkNumber,
  input: { bucket: INPUT },
  keys,
  output: { bucket: outputBucket, prefix: 'jobs' },
  top_k: 3,
});

describe('the Lambda image as the batch function (dist/batch.handler, moto on the host)', () => {
  let moto: Moto;
  let s3: S3Client;
  let batch: LambdaContainer;
  const measured: string[] = [];

  before(async () => {
    const seconds = await buildImage('lambda', TAG);
    measured.push(`docker build --target lambda (the same tag as lambda-image.test.ts): ${seconds.toFixed(1)} s`);
    moto = await startMoto();
    s3 = createS3Client(loadConfig({ S3_FORCE_PATH_STYLE: 'true' }), moto.clients);
    for (const Bucket of [INPUT, OUTPUT]) await s3.send(new CreateBucketCommand({ Bucket }));
    for (const name of fixtureNames)
      await s3.send(new PutObjectCommand({ Bucket: INPUT, Key: `photos/${name}`, Body: await readFixture(name) }));
    // moto's endpoint, dummy credentials and region, path-style S3: what a deployment gets from AWS.
    batch = await startLambda(TAG, ['dist/batch.handler'], moto.env);
  });
  after(async () => {
    if (batch) await removeContainer(batch.id);
    s3?.destroy();
    await moto?.stop();
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

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: OUTPUT, Prefix: 'jobs/image-job/' }));
    const keys = (listed.Contents ?? []).map((object) => object.Key!).sort();
    assert.deepEqual(keys, ['jobs/image-job/part-000000.jsonl', 'jobs/image-job/part-000002.jsonl']);
    const lines: PartLine[] = [];
    for (const Key of keys) {
      const { Body } = await s3.send(new GetObjectCommand({ Bucket: OUTPUT, Key }));
      lines.push(
        ...(await Body!.transformToString())
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line)),
      );
    }
    assert.deepEqual(
      lines.map((line) => line.key),
      KEYS,
    );
    for (const line of lines) {
      assert.ok(!('error' in line), JSON.stringify(line));
      assert.ok(expected[line.key.slice('photos/'.length)]!.acceptable_top1_wnids.includes(line.category), line.key);
      assert.equal(line.predictions?.length, 3);
    }

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
