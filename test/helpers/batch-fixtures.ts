/**
 * What the batch tests (test/integration/batch*.test.ts, test/containers/batch-image.test.ts) start
 * from and read back, in moto's server (moto.ts): an input and an output bucket with the fixtures
 * under photos/ and, as a test asks, a truncated JPEG and stray keys; a queue with its dead-letter
 * queue; the parts a job writes, their lines checked against the fixtures' expected classes; and
 * SQS records as Lambda's event source hands them to the batch function.
 */
import assert from 'node:assert/strict';
import type { SQSRecord } from 'aws-lambda';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { createS3Client, createSqsClient } from '../../lib/batch/aws-clients.ts';
import type { PartLine } from '../../lib/batch/process-chunk.ts';
import { type SubmitOptions, type SubmittedJob, submitJob } from '../../lib/batch/submit.ts';
import { expected, fixtureNames, readFixture } from './fixtures.ts';
import { MOTO_REGION, type Moto, startMoto } from './moto.ts';

/** The first half of owl.jpg: a JPEG that fails to decode (IMAGE_CORRUPT). */
export const BROKEN_KEY = 'photos/broken.jpg';
/** parrot.jpg again, in a sub-folder and with an upper-case extension. */
const NESTED_KEY = 'photos/nested/PARROT.JPG';

export interface BatchObjects {
  /** Adds BROKEN_KEY. */
  broken?: boolean;
  /**
   * Adds NESTED_KEY (an image), photos/notes.txt (not one) and elsewhere/owl.jpg (outside the
   * prefix): submit must take the first only.
   */
  strays?: boolean;
}

/** The image keys under photos/ of a world with `objects`, sorted: what a job of that prefix works. */
export function imageKeys(objects: BatchObjects = {}): string[] {
  return [
    ...fixtureNames.map((name) => `photos/${name}`),
    ...(objects.strays ? [NESTED_KEY] : []),
    ...(objects.broken ? [BROKEN_KEY] : []),
  ].sort();
}

export interface BatchWorld {
  moto: Moto;
  /** Clients of moto's S3 (by path) and SQS. */
  s3: S3Client;
  sqs: SQSClient;
  /** Submits a job of the input bucket's photos/ to `queueUrl`, its parts under `outputPrefix`. */
  submitPhotos(
    queueUrl: string,
    outputPrefix: string,
    options: Pick<SubmitOptions, 'chunkSize' | 'model'>,
  ): Promise<SubmittedJob>;
  /** Destroys the clients and stops moto. */
  close(): Promise<void>;
}

/**
 * Starts moto, creates the two buckets and uploads every fixture under `input`'s photos/, with
 * what `objects` adds.
 */
export async function startBatchWorld(
  buckets: { input: string; output: string },
  objects: BatchObjects = {},
): Promise<BatchWorld> {
  const moto = await startMoto();
  const s3 = createS3Client({ s3ForcePathStyle: true }, moto.clients);
  const sqs = createSqsClient(moto.clients);
  const close = async () => {
    s3.destroy();
    sqs.destroy();
    await moto.stop();
  };
  try {
    for (const Bucket of [buckets.input, buckets.output]) await s3.send(new CreateBucketCommand({ Bucket }));
    const put = (Key: string, Body: Buffer | string) =>
      s3.send(new PutObjectCommand({ Bucket: buckets.input, Key, Body }));
    for (const name of fixtureNames) await put(`photos/${name}`, await readFixture(name));
    const owl = await readFixture('owl.jpg');
    if (objects.broken) await put(BROKEN_KEY, owl.subarray(0, owl.length >> 1));
    if (objects.strays) {
      await put(NESTED_KEY, await readFixture('parrot.jpg'));
      await put('photos/notes.txt', 'not an image, and not named like one');
      await put('elsewhere/owl.jpg', owl);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    moto,
    s3,
    sqs,
    submitPhotos: (queueUrl, outputPrefix, options) =>
      submitJob(
        {
          input: { bucket: buckets.input, prefix: 'photos/' },
          output: { bucket: buckets.output, prefix: outputPrefix },
          queueUrl,
          ...options,
        },
        { s3, sqs },
      ),
    close,
  };
}

export interface BatchQueue {
  url: string;
  arn: string;
  deadLetterUrl: string;
}

/** Creates the queue `name` and its dead-letter queue `<name>-dlq`, which takes a message after 3 receives. */
export async function createBatchQueue(
  sqs: SQSClient,
  name: string,
  options: { visibilityTimeoutSeconds: number },
): Promise<BatchQueue> {
  const arnOf = async (QueueUrl: string) =>
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  const deadLetterUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl!;
  const redrive = { deadLetterTargetArn: await arnOf(deadLetterUrl), maxReceiveCount: 3 };
  const url = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: {
          VisibilityTimeout: String(options.visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify(redrive),
        },
      }),
    )
  ).QueueUrl!;
  return { url, arn: await arnOf(url), deadLetterUrl };
}

/** The keys under `prefix` in `bucket`, sorted. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((object) => object.Key!).sort();
}

export const getText = async (s3: S3Client, Bucket: string, Key: string): Promise<string> =>
  (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString();

export const parseLines = (text: string): PartLine[] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as PartLine);

/** The parts under `prefix` in `bucket` (their keys, sorted) and all their lines, in that order. */
export async function readParts(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ keys: string[]; lines: PartLine[] }> {
  const keys = await listKeys(s3, bucket, prefix);
  const lines: PartLine[] = [];
  for (const key of keys) lines.push(...parseLines(await getText(s3, bucket, key)));
  return { keys, lines };
}

/**
 * One line per key, in order: BROKEN_KEY an IMAGE_CORRUPT error line, every other image classified
 * in one of its fixture's acceptable classes, with `predictions` (of `topK`) only when topK is above 1.
 */
export function assertPartLines(lines: PartLine[], keys: string[], topK = 1): void {
  assert.deepEqual(
    lines.map((line) => line.key),
    keys,
  );
  for (const line of lines) {
    if (line.key === BROKEN_KEY) {
      assert.ok('error' in line, 'the truncated JPEG is an error line');
      assert.equal(line.error.code, 'IMAGE_CORRUPT');
      continue;
    }
    assert.ok(!('error' in line), `${line.key}: ${JSON.stringify(line)}`);
    const fixture = line.key === NESTED_KEY ? 'parrot.jpg' : line.key.slice('photos/'.length);
    assert.ok(
      expected[fixture]!.acceptable_top1_wnids.includes(line.category),
      `${line.key}: ${line.category} ${line.name}`,
    );
    assert.equal(line.predictions?.length, topK > 1 ? topK : undefined);
  }
}

/**
 * A message as a record of the SQS event Lambda's event source hands the batch function; what the
 * message lacks (attributes not asked for, a record made by hand) is a first receive sent now.
 */
export function sqsRecord(message: Message, queueArn: string): SQSRecord {
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body!,
    attributes: {
      ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
      SentTimestamp: message.Attributes?.SentTimestamp ?? String(Date.now()),
      SenderId: message.Attributes?.SenderId ?? 'test',
      ApproximateFirstReceiveTimestamp: message.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: MOTO_REGION,
  };
}
