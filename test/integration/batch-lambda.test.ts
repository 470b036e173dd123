/**
 * The batch Lambda function against moto's S3 and SQS on 127.0.0.1: the test plays the event source
 * mapping (it receives the queue's messages, hands them to the handler as an SQS event, deletes
 * those not reported as failed), so jobs run as on Lambda: parts as the local worker writes them,
 * failures per record, the dead-letter queue after 3 receives, and the deadline. Last, the bundle
 * scripts/build.mjs writes (dist/batch.mjs, the image's dist/batch.handler) in its own process.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type ChunkRuntime, createChunkRuntime } from '../../lib/batch/chunk-runtime.ts';
import type { ChunkMessage } from '../../lib/batch/message.ts';
import type { ChunkDeps } from '../../lib/batch/process-chunk.ts';
import { loadConfig } from '../../lib/config.ts';
import { type BatchHandler, type BatchTimeOptions, createBatchHandler } from '../../lib/lambda/batch-function.ts';
import { createLogger } from '../../lib/logger.ts';
import { sharedClassifier } from '../helpers/app.ts';
import {
  type BatchWorld,
  assertPartLines,
  createBatchQueue,
  imageKeys,
  listKeys,
  readParts,
  sqsRecord,
  startBatchWorld,
} from '../helpers/batch-fixtures.ts';
import { MODEL_DIR } from '../helpers/fixtures.ts';
import { captureOutput, lambdaContext } from '../helpers/lambda.ts';
import { ROOT } from '../helpers/process.ts';

const exec = promisify(execFile);

// What the Lambda runtime sets for an on-demand container; Powertools reads it to report cold starts.
process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';

const INPUT = 'lambda-images';
const OUTPUT = 'lambda-results';
const FUNCTION_NAME = 'image-classifier-test-batch';
/** Every fixture and one broken JPEG, as in test/integration/batch.test.ts. */
const IMAGE_KEYS = imageKeys({ broken: true });

type LogLine = Record<string, any>;

describe('the batch Lambda function (moto S3 and SQS on 127.0.0.1; the test plays the event source)', {
  timeout: 180_000,
}, () => {
  let world: BatchWorld;
  let s3: S3Client;
  let sqs: SQSClient;
  let chunks: ChunkRuntime;
  let deps: ChunkDeps;
  let queueUrl: string;
  let queueArn: string;
  let deadLetterUrl: string;

  const logger = createLogger({ serviceName: 'batch-test', logLevel: 'INFO' });
  const handlerWith = (options?: BatchTimeOptions): BatchHandler =>
    createBatchHandler({ logger, metrics: chunks.runtime.metrics, chunk: deps }, options);

  /** Invokes the handler as Lambda would, capturing its log lines and EMF metrics. */
  async function invoke(handler: BatchHandler, event: SQSEvent, remainingMs: () => number = () => 290_000) {
    const context = { ...lambdaContext(FUNCTION_NAME), getRemainingTimeInMillis: remainingMs };
    const { result, lines } = await captureOutput(() => handler(event, context));
    return { response: result, lines: lines as LogLine[] };
  }

  /** A record made by hand, for the deadline tests (never on the queue). */
  const recordOf = (body: string, messageId: string): SQSRecord =>
    sqsRecord({ MessageId: messageId, ReceiptHandle: 'none', Body: body }, queueArn);

  /** Up to `batchSize` messages from the queue as one SQS event, as the event source's poller hands them over. */
  async function receiveEvent(batchSize: number): Promise<SQSEvent> {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: batchSize,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    return { Records: Messages.map((message) => sqsRecord(message, queueArn)) };
  }

  /** What the event source does with the answer: deletes every record not reported as failed. */
  async function settle(event: SQSEvent, response: SQSBatchResponse): Promise<void> {
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    const done = event.Records.filter((record) => !failed.has(record.messageId));
    if (done.length === 0) return;
    const { Failed = [] } = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.map((record, i) => ({ Id: String(i), ReceiptHandle: record.receiptHandle })),
      }),
    );
    assert.deepEqual(Failed, []);
  }

  /** Polls, invokes and settles until the queue gives nothing twice; every invocation's output. */
  async function runLikeEventSource(handler: BatchHandler, batchSize: number) {
    const invocations: Array<{ event: SQSEvent; response: SQSBatchResponse; lines: LogLine[] }> = [];
    for (let empty = 0; empty < 2; ) {
      const event = await receiveEvent(batchSize);
      if (event.Records.length === 0) {
        empty++;
        continue;
      }
      empty = 0;
      const { response, lines } = await invoke(handler, event);
      await settle(event, response);
      invocations.push({ event, response, lines });
    }
    return invocations;
  }

  const listParts = (prefix: string) => listKeys(s3, OUTPUT, prefix);

  const chunkMessage = (overrides: Partial<ChunkMessage>): string =>
    JSON.stringify({
      jobId: 'lambda-job',
      chunk: 0,
      input: { bucket: INPUT },
      keys: IMAGE_KEYS.slice(0, 2),
      output: { bucket: OUTPUT, prefix: 'direct' },
      top_k: 1,
      ...overrides,
    } satisfies ChunkMessage);

  const logged = (lines: LogLine[], message: string) => lines.filter((line) => line.message === message);
  const metric = (lines: LogLine[], name: string): number[] =>
    lines.filter((line) => '_aws' in line && name in line).flatMap((line) => [line[name]].flat());

  before(async () => {
    world = await startBatchWorld({ input: INPUT, output: OUTPUT }, { broken: true });
    ({ s3, sqs } = world);
    ({
      url: queueUrl,
      arn: queueArn,
      deadLetterUrl,
    } = await createBatchQueue(sqs, 'batch-lambda', { visibilityTimeoutSeconds: 1 }));

    const config = loadConfig({ MODEL_DIR, S3_FORCE_PATH_STYLE: 'true' });
    chunks = createChunkRuntime(config, {
      clients: world.moto.clients,
      logger,
      sharedClassifier: await sharedClassifier(),
    });
    deps = await chunks.deps();
  });

  after(async () => {
    await chunks?.close();
    await world?.close();
  });

  test('works a job, 2 records per invocation: the parts the local worker writes, logs, metrics', async () => {
    const job = await world.submitPhotos(queueUrl, 'jobs', { chunkSize: 5, model: 'mobilenet_v2' });
    assert.equal(job.chunks, 3); // 11 images: 5, 5, 1
    const invocations = await runLikeEventSource(handlerWith(), 2);
    assert.ok(invocations.length >= 2, `${invocations.length} invocations`);
    for (const { response } of invocations) assert.deepEqual(response, { batchItemFailures: [] });
    assert.equal(
      invocations.reduce((sum, { event }) => sum + event.Records.length, 0),
      3,
    );

    const keys = await listParts(`jobs/${job.jobId}/`);
    assert.deepEqual(keys, [
      `jobs/${job.jobId}/manifest.json`,
      ...[0, 1, 2].map((chunk) => `jobs/${job.jobId}/part-00000${chunk}.jsonl`),
    ]);
    assertPartLines((await readParts(s3, OUTPUT, `jobs/${job.jobId}/part-`)).lines, IMAGE_KEYS);

    const output = invocations.flatMap(({ lines }) => lines);
    const done = logged(output, 'Batch chunk done');
    assert.deepEqual(done.map((line) => [line.jobId, line.chunk]).sort(), [
      [job.jobId, 0],
      [job.jobId, 1],
      [job.jobId, 2],
    ]);
    for (const line of done) {
      assert.equal(line.function_name, FUNCTION_NAME);
      assert.match(line.part, new RegExp(`^s3://${OUTPUT}/jobs/${job.jobId}/part-`));
      assert.ok(line.durationMs > 0);
    }
    assert.equal(logged(output, 'Batch invocation done').length, invocations.length);
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    assert.equal(sum(metric(output, 'BatchImagesClassified')), 10);
    assert.equal(sum(metric(output, 'BatchImagesFailed')), 1);
    assert.equal(sum(metric(output, 'BatchChunksDone')), 3);
    assert.equal(sum(metric(output, 'ColdStart')), 1);
  });

  test('a failing record is reported alone; the others are deleted; it goes to the DLQ after 3 receives', async () => {
    const good = chunkMessage({ jobId: 'mixed-job', chunk: 0 });
    const noBucket = chunkMessage({ jobId: 'mixed-job', chunk: 1, output: { bucket: 'no-such-bucket', prefix: 'x' } });
    const malformed = '{"jobId": "not a chunk"';
    for (const MessageBody of [good, noBucket, malformed])
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody }));

    // One invocation with the three records (receives can return fewer: take until all three are in).
    const records: SQSRecord[] = [];
    while (records.length < 3) records.push(...(await receiveEvent(10)).Records);
    const event = { Records: records };
    const { response, lines } = await invoke(handlerWith(), event);
    const idOf = (body: string) => records.find((record) => record.body === body)!.messageId;
    assert.deepEqual(
      response.batchItemFailures.map((failure) => failure.itemIdentifier).sort(),
      [idOf(noBucket), idOf(malformed)].sort(),
    );
    assert.deepEqual(await listParts('direct/mixed-job/'), ['direct/mixed-job/part-000000.jsonl']);
    const failed = logged(
      lines,
      'Batch chunk failed; SQS will deliver it again (the dead-letter queue after 3 receives)',
    );
    assert.deepEqual(
      failed.map((line) => [line.jobId, line.chunk, line.receiveCount, line.error?.name]),
      [
        ['mixed-job', 1, 1, 'NoSuchBucket'],
        [undefined, undefined, 1, 'MalformedMessageError'],
      ],
    );
    assert.deepEqual(metric(lines, 'BatchChunksFailed'), [2]);
    await settle(event, response);

    // SQS delivers only the two failed records again; after their third receive they go to the DLQ.
    const retries = await runLikeEventSource(handlerWith(), 10);
    const redelivered = retries.flatMap(({ event }) => event.Records.map((record) => record.body));
    assert.deepEqual(
      redelivered.filter((body) => body === good),
      [],
    );
    assert.equal(redelivered.length, 4, 'two more receives each');
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: deadLetterUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    assert.deepEqual(Messages.map((m) => m.Body).sort(), [noBucket, malformed].sort());
  });

  test('time running short: records not started are left to SQS, and a chunk past the deadline too', async () => {
    // Every image: a chunk that takes a few hundred ms here.
    const bodies = [0, 1, 2].map((chunk) => chunkMessage({ jobId: 'late-job', chunk, keys: IMAGE_KEYS }));
    const event = { Records: bodies.map((body, i) => recordOf(body, `late-${i}`)) };

    // 12 s left: less than the margin (3 s) and the least time a chunk is given (10 s).
    const short = await invoke(handlerWith(), event, () => 12_000);
    assert.deepEqual(short.response.batchItemFailures, [
      { itemIdentifier: 'late-0' },
      { itemIdentifier: 'late-1' },
      { itemIdentifier: 'late-2' },
    ]);
    const [warning] = logged(short.lines, 'Too little time left for another chunk; SQS will deliver the rest again');
    assert.equal(warning?.deferred, 3);

    // The deadline (remaining time less the margin) passes 20 ms into the first chunk: it is
    // abandoned and reported, and the others are not started.
    const started = performance.now();
    const cut = await invoke(handlerWith({ marginMs: 1000, minChunkMs: 0 }), event, () => 1020);
    assert.ok(performance.now() - started < 1000, 'answers at the deadline, not when the chunk would be done');
    assert.deepEqual(
      cut.response.batchItemFailures.map((failure) => failure.itemIdentifier),
      ['late-0', 'late-1', 'late-2'],
    );
    const [failure] = logged(
      cut.lines,
      'Batch chunk failed; SQS will deliver it again (the dead-letter queue after 3 receives)',
    );
    assert.equal(failure?.error?.code, 'REQUEST_DEADLINE_EXCEEDED');
    // The abandoned chunk stops at its next step and writes nothing.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(await listParts('direct/late-job/'), []);

    // A container learns how long a chunk takes: once one took longer than the time left, it takes no other.
    const learning = handlerWith({ marginMs: 0, minChunkMs: 0 });
    const first = await invoke(learning, { Records: [event.Records[0]!] });
    assert.deepEqual(first.response.batchItemFailures, []);
    const durationMs = logged(first.lines, 'Batch chunk done')[0]?.durationMs as number;
    const rest = await invoke(learning, { Records: event.Records.slice(1) }, () => durationMs / 2);
    assert.deepEqual(
      rest.response.batchItemFailures.map((failure) => failure.itemIdentifier),
      ['late-1', 'late-2'],
    );
  });

  test('dist/batch.handler: the bundle scripts/build.mjs writes works a record in its own process', async (t) => {
    // build.mjs writes dist/ under its working directory: a scratch folder beside the sources, so the
    // repository's dist/ (which other tests read) is not rewritten under them.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'batch-bundle-'));
    try {
      for (const entry of ['lib', 'handlers', 'node_modules', 'package.json', 'tsconfig.json'])
        await symlink(path.join(ROOT, entry), path.join(dir, entry));
      const building = performance.now();
      await exec(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { cwd: dir });
      const buildMs = performance.now() - building;

      const body = chunkMessage({ jobId: 'bundle-job', chunk: 0, keys: IMAGE_KEYS.slice(0, 3) });
      const event = { Records: [recordOf(body, 'bundle-0'), recordOf('not json', 'bundle-1')] };
      const script = `
        const started = performance.now();
        const { handler } = await import('./dist/batch.mjs');
        const ready = performance.now();
        const context = { awsRequestId: 'local', functionName: 'batch', functionVersion: '1', invokedFunctionArn: 'arn',
          memoryLimitInMB: '3008', logGroupName: 'g', logStreamName: 's', getRemainingTimeInMillis: () => 290000 };
        const result = await handler(JSON.parse(process.env.EVENT), context);
        console.error(JSON.stringify({ result, initMs: ready - started, invokeMs: performance.now() - ready }));`;
      const { stderr } = await exec(process.execPath, ['--input-type=module', '-e', script], {
        cwd: dir,
        env: { PATH: process.env.PATH, ...world.moto.env, MODEL_DIR, LOG_LEVEL: 'ERROR', EVENT: JSON.stringify(event) },
      });
      const { result, initMs, invokeMs } = JSON.parse(stderr.trim().split('\n').at(-1)!);
      assert.deepEqual(result, { batchItemFailures: [{ itemIdentifier: 'bundle-1' }] });
      const { keys, lines } = await readParts(s3, OUTPUT, 'direct/bundle-job/');
      assert.deepEqual(keys, ['direct/bundle-job/part-000000.jsonl']);
      assert.deepEqual(
        lines.map((line) => line.key),
        IMAGE_KEYS.slice(0, 3),
      );
      t.diagnostic(
        `build.mjs ${Math.round(buildMs)} ms; dist/batch.mjs init (model, S3 client) ${Math.round(initMs)} ms, ` +
          `3 images ${Math.round(invokeMs)} ms`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
