/**
 * Batch jobs end to end against moto's S3, SQS and CloudFormation on 127.0.0.1: submit, the worker
 * in this process and through the real `classify batch` command, redelivery, the dead-letter queue,
 * status and results.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createCloudFormationClient } from '../../lib/batch/aws-clients.ts';
import { type ChunkRuntime, createChunkRuntime } from '../../lib/batch/chunk-runtime.ts';
import { readManifest } from '../../lib/batch/manifest.ts';
import type { ChunkMessage } from '../../lib/batch/message.ts';
import { type ChunkDeps, type PartLine, processChunk } from '../../lib/batch/process-chunk.ts';
import { queueUrlOfStage } from '../../lib/batch/stack-queue.ts';
import { jobStatus, writeResults } from '../../lib/batch/status.ts';
import { runWorker } from '../../lib/batch/worker.ts';
import { loadConfig } from '../../lib/config.ts';
import { ImageError } from '../../lib/errors.ts';
import { createS3ObjectReader } from '../../lib/images/read-s3-object.ts';
import { sharedClassifier, silentLogger } from '../helpers/app.ts';
import {
  type BatchWorld,
  assertPartLines,
  createBatchQueue,
  getText,
  imageKeys,
  parseLines,
  readParts,
  startBatchWorld,
} from '../helpers/batch-fixtures.ts';
import { readFixture } from '../helpers/fixtures.ts';
import { ROOT } from '../helpers/process.ts';

const exec = promisify(execFile);

const INPUT = 'images';
const OUTPUT = 'results';
/** The images under photos/: every fixture, one in a sub-folder with an upper-case extension, one broken. */
const IMAGE_KEYS = imageKeys({ broken: true, strays: true });

/** One line per image, in key order, each fixture in an acceptable class, the broken one an error. */
const assertJobLines = (lines: PartLine[], topK = 1) => assertPartLines(lines, IMAGE_KEYS, topK);

describe('batch jobs (moto S3, SQS, CloudFormation on 127.0.0.1)', { timeout: 120_000 }, () => {
  let world: BatchWorld;
  let s3: S3Client;
  let sqs: SQSClient;
  let cloudFormation: CloudFormationClient;
  let chunks: ChunkRuntime;
  let deps: ChunkDeps;
  let queueUrl: string;
  let deadLetterUrl: string;

  /** Runs bin/classify.mjs with moto's AWS variables, as a user would. */
  async function classify(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await exec(process.execPath, ['bin/classify.mjs', ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, ...world.moto.env },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  const work = (options: { waitTimeSeconds: number; visibilityTimeoutSeconds: number }) =>
    runWorker({ queueUrl, sqs, untilEmpty: true, ...options, handle: (body) => processChunk(body, deps) });

  before(async () => {
    world = await startBatchWorld({ input: INPUT, output: OUTPUT }, { broken: true, strays: true });
    ({ s3, sqs } = world);
    cloudFormation = createCloudFormationClient(world.moto.clients);
    ({ url: queueUrl, deadLetterUrl } = await createBatchQueue(sqs, 'batch', { visibilityTimeoutSeconds: 2 }));
    assert.match(queueUrl, /^http:\/\/127\.0\.0\.1:\d+\//);

    chunks = createChunkRuntime(loadConfig({ S3_FORCE_PATH_STYLE: 'true' }), {
      clients: world.moto.clients,
      logger: silentLogger,
      sharedClassifier: await sharedClassifier(),
    });
    deps = await chunks.deps();
  });

  after(async () => {
    await chunks?.close();
    cloudFormation?.destroy();
    await world?.close();
  });

  test('submit queues the prefix in chunks, the worker writes a line per image, status and results agree', async () => {
    const job = await world.submitPhotos(queueUrl, 'jobs', { chunkSize: 5, model: 'mobilenet_v2' });
    // 12 images (notes.txt and elsewhere/ left out) in chunks of 5: 5, 5, 2.
    assert.equal(job.images, IMAGE_KEYS.length);
    assert.equal(job.chunks, 3);
    assert.equal(job.manifest, `s3://${OUTPUT}/jobs/${job.jobId}/manifest.json`);
    const manifest = await readManifest(s3, { bucket: OUTPUT, prefix: 'jobs' }, job.jobId);
    assert.deepEqual(
      { ...manifest, createdAt: undefined },
      {
        version: 1,
        jobId: job.jobId,
        input: { bucket: INPUT, prefix: 'photos/' },
        output: { bucket: OUTPUT, prefix: 'jobs' },
        chunkSize: 5,
        images: 12,
        chunks: 3,
        createdAt: undefined,
        model: 'mobilenet_v2',
        top_k: 1,
      },
    );
    assert.ok(Date.now() - Date.parse(manifest.createdAt) < 60_000);

    const summary = await work({ waitTimeSeconds: 1, visibilityTimeoutSeconds: 5 });
    assert.deepEqual(summary, { processed: 3, failed: 0 });

    const { keys, lines } = await readParts(s3, OUTPUT, `jobs/${job.jobId}/part-`);
    assert.deepEqual(
      keys,
      [0, 1, 2].map((chunk) => `jobs/${job.jobId}/part-00000${chunk}.jsonl`),
    );
    assertJobLines(lines);
    assert.deepEqual(Object.keys(lines[0]!), ['key', 'score', 'category', 'name']);

    const status = await jobStatus(s3, { bucket: OUTPUT, prefix: 'jobs' }, job.jobId);
    assert.equal(status.complete, true);
    assert.equal(status.partsDone, 3);
    assert.equal(status.chunks, 3);
    assert.equal(status.images, 12);
    assert.equal(status.classified, 11);
    assert.equal(status.failed, 1);
    assert.deepEqual(status.failuresByCode, { IMAGE_CORRUPT: 1 });
    assert.deepEqual(status.missingChunks, []);

    const written: Buffer[] = [];
    const out = new Writable({
      write(chunk, _encoding, done) {
        written.push(Buffer.from(chunk));
        done();
      },
    });
    assert.deepEqual(await writeResults(s3, { bucket: OUTPUT, prefix: 'jobs' }, job.jobId, out), {
      parts: 3,
      chunks: 3,
    });
    assert.deepEqual(parseLines(Buffer.concat(written).toString()), lines);
  });

  test('an S3 object fails its image alone: missing object or bucket, too large (from ContentLength)', async () => {
    const read = createS3ObjectReader(s3);
    await assert.rejects(read({ bucket: INPUT, key: 'photos/none.jpg' }, 1e7), (error: unknown) => {
      assert.ok(error instanceof ImageError);
      assert.equal(error.code, 'OBJECT_NOT_FOUND');
      return true;
    });
    await assert.rejects(read({ bucket: 'no-such-bucket', key: 'a.jpg' }, 1e7), {
      code: 'OBJECT_NOT_FOUND',
      message: 'No such S3 bucket.',
    });
    await assert.rejects(read({ bucket: INPUT, key: 'photos/owl.jpg' }, 1000), { code: 'IMAGE_TOO_LARGE' });
    const owl = await read({ bucket: INPUT, key: 'photos/owl.jpg' }, 1e7);
    assert.deepEqual(owl, await readFixture('owl.jpg'));
  });

  test('a redelivered chunk rewrites its part: same lines, no duplicates', async () => {
    const job = await world.submitPhotos(queueUrl, 'again', { model: 'm' });
    assert.equal(job.chunks, 1);
    // A worker that wrote the part but died before deleting the message.
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 1, WaitTimeSeconds: 1 }),
    );
    assert.equal(Messages.length, 1);
    const first = await processChunk(Messages[0]!.Body!, deps);
    assert.deepEqual(first, {
      jobId: job.jobId,
      chunk: 0,
      part: `s3://${OUTPUT}/again/${job.jobId}/part-000000.jsonl`,
      images: 12,
      classified: 11,
      failed: 1,
    });
    const partKey = `again/${job.jobId}/part-000000.jsonl`;
    const original = await getText(s3, OUTPUT, partKey);
    // Marks the part, to see the redelivery replace it rather than add to it.
    await s3.send(new PutObjectCommand({ Bucket: OUTPUT, Key: partKey, Body: '{"key":"stale"}\n' }));

    // Visible again after 1 s: the worker takes it, rewrites the part and deletes the message.
    const summary = await work({ waitTimeSeconds: 3, visibilityTimeoutSeconds: 5 });
    assert.deepEqual(summary, { processed: 1, failed: 0 });
    const rewritten = await getText(s3, OUTPUT, partKey);
    assert.equal(rewritten, original);
    const { keys, lines } = await readParts(s3, OUTPUT, `again/${job.jobId}/part-`);
    assert.deepEqual(keys, [partKey]);
    assertJobLines(lines);
    const empty = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
    assert.equal(empty.Messages, undefined);
  });

  test('a message worked on longer than its visibility timeout stays hidden: the worker renews it', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'slow' }));
    const seen: string[] = [];
    const worker = runWorker({
      queueUrl,
      sqs,
      untilEmpty: true,
      waitTimeSeconds: 1,
      visibilityTimeoutSeconds: 1,
      handle: async (body) => {
        seen.push(body);
        await new Promise((resolve) => setTimeout(resolve, 2500));
      },
    });
    // Past the 1 s timeout, another worker still gets nothing.
    await new Promise((resolve) => setTimeout(resolve, 1700));
    const other = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
    assert.equal(other.Messages, undefined);
    assert.deepEqual(await worker, { processed: 1, failed: 0 });
    assert.deepEqual(seen, ['slow']);
  });

  test('a chunk failing whole (no output bucket, malformed message) reaches the DLQ after 3 receives', async () => {
    const message: ChunkMessage = {
      jobId: 'doomed-job',
      chunk: 0,
      input: { bucket: INPUT },
      keys: IMAGE_KEYS.slice(0, 2),
      output: { bucket: 'no-such-output-bucket', prefix: 'jobs' },
      top_k: 1,
    };
    const bodies = [JSON.stringify(message), '{"jobId": "not a chunk"'];
    for (const MessageBody of bodies) await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody }));

    // Each is received 3 times and fails, then moved on its 4th receive; the worker stops once none is left.
    const summary = await work({ waitTimeSeconds: 2, visibilityTimeoutSeconds: 1 });
    assert.deepEqual(summary, { processed: 0, failed: 6 });

    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: deadLetterUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    assert.deepEqual(Messages.map((m) => m.Body).sort(), [...bodies].sort());
    const left = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
    assert.equal(left.Messages, undefined);

    // A queue that is not there stops the worker at once: no retrying what cannot get better.
    const started = Date.now();
    await assert.rejects(
      runWorker({ queueUrl: `${queueUrl}-missing`, sqs, waitTimeSeconds: 0, handle: async () => {} }),
      (error: Error) => /QueueDoesNotExist|NonExistentQueue/.test(error.name),
    );
    assert.ok(Date.now() - started < 900);
  });

  test('classify batch submit --stage, work --until-empty, status and results, as child processes', async () => {
    // The deployed stack's output, as serverless.yml would declare it (a loopback URL: moto's own).
    const template = {
      Resources: { Marker: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'stack-marker' } } },
      Outputs: { BatchQueueUrl: { Value: queueUrl } },
    };
    await cloudFormation.send(
      new CreateStackCommand({ StackName: 'image-classifier-e2e', TemplateBody: JSON.stringify(template) }),
    );
    assert.equal(await queueUrlOfStage(cloudFormation, 'e2e'), queueUrl);
    await assert.rejects(queueUrlOfStage(cloudFormation, 'nowhere'), /No stack image-classifier-nowhere/);

    const submitted = await classify(
      'batch',
      'submit',
      `s3://${INPUT}/photos/`,
      '--output',
      `s3://${OUTPUT}/cli`,
      '--stage',
      'e2e',
      '--chunk',
      '4',
      '--top',
      '3',
      '--json',
    );
    assert.equal(submitted.code, 0, submitted.stderr);
    const job = JSON.parse(submitted.stdout) as { jobId: string; images: number; chunks: number };
    assert.equal(job.images, 12);
    assert.equal(job.chunks, 3);

    const worked = await classify('batch', 'work', '--queue', queueUrl, '--until-empty', '--wait', '1');
    assert.equal(worked.code, 0, worked.stderr);
    assert.equal(worked.stdout.trim().split('\n').length, 3, worked.stdout);
    assert.match(worked.stderr, /3 chunks done, 0 failed/);

    const status = await classify('batch', 'status', job.jobId, '--output', `s3://${OUTPUT}/cli`, '--json');
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(
      (({ complete, partsDone, classified, failed, failuresByCode, model, top_k }) => ({
        complete,
        partsDone,
        classified,
        failed,
        failuresByCode,
        model,
        top_k,
      }))(JSON.parse(status.stdout)),
      {
        complete: true,
        partsDone: 3,
        classified: 11,
        failed: 1,
        failuresByCode: { IMAGE_CORRUPT: 1 },
        model: 'mobilenet_v2',
        top_k: 3,
      },
    );
    const table = await classify('batch', 'status', job.jobId, '--output', `s3://${OUTPUT}/cli`);
    assert.match(table.stdout, /\(complete\)/);
    assert.match(table.stdout, /parts +3 of 3/);
    assert.match(table.stdout, /failures IMAGE_CORRUPT 1/);

    const results = await classify('batch', 'results', job.jobId, '--output', `s3://${OUTPUT}/cli`);
    assert.equal(results.code, 0, results.stderr);
    assertJobLines(parseLines(results.stdout), 3);

    const missing = await classify('batch', 'status', 'no-such-job', '--output', `s3://${OUTPUT}/cli`);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No batch job no-such-job/);
    const usage = await classify('batch', 'submit', `s3://${INPUT}/photos/`, '--queue', queueUrl);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /needs --output/);
  });
});
