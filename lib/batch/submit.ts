/**
 * Submits a batch job: lists the image objects under an S3 prefix, writes the job's manifest, then
 * queues one SQS message per chunk of keys, so any number of workers can share the job and a
 * chunk that fails is retried alone. Nothing is classified here.
 */
import { randomBytes } from 'node:crypto';
import { type S3Client, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { type JobManifest, writeManifest } from './manifest.ts';
import { type S3Prefix, formatS3Url, isImageKey, manifestKey } from './locations.ts';
import type { ChunkMessage } from './message.ts';

/** Keys per chunk (one message, one part) unless told. */
export const DEFAULT_CHUNK_SIZE = 64;
/** Most keys per chunk. A message must also stay within 256 KiB: about 2,500 keys of 100 bytes. */
export const MAX_CHUNK_SIZE = 1000;

/** SQS's limits for one SendMessageBatch: 10 messages, and their bodies' bytes (the original 256 KiB). */
const BATCH_ENTRIES = 10;
const BATCH_BYTES = 256 * 1024;
/** Tries for messages SQS reports as failed without blaming the sender (throttling, its own errors). */
const SEND_ATTEMPTS = 3;

export interface SubmitOptions {
  input: S3Prefix;
  output: S3Prefix;
  queueUrl: string;
  chunkSize?: number;
  /** Predictions per image (1 gives the best only, like the API). */
  topK?: number;
  /** The model the job is for, recorded in the manifest. */
  model: string;
}

export interface SubmitDeps {
  s3: S3Client;
  sqs: SQSClient;
}

export interface SubmittedJob {
  jobId: string;
  images: number;
  chunks: number;
  /** Where the manifest is: `s3://bucket/<prefix>/<job-id>/manifest.json`. */
  manifest: string;
}

/** Nothing to do, or SQS refused messages: the message says which and why. */
export class SubmitError extends Error {
  override readonly name = 'SubmitError';
}

/** Sortable by time, unique by its random tail: `20250102T030405Z-1a2b3c4d`. */
export function newJobId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

export async function submitJob(options: SubmitOptions, deps: SubmitDeps): Promise<SubmittedJob> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const topK = options.topK ?? 1;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE)
    throw new RangeError(`The chunk size must be an integer from 1 to ${MAX_CHUNK_SIZE}, not ${chunkSize}.`);
  const keys = await listImageKeys(deps.s3, options.input);
  if (keys.length === 0) throw new SubmitError(`No image objects under ${formatS3Url(options.input)}.`);

  const jobId = newJobId();
  const chunks = Math.ceil(keys.length / chunkSize);
  const manifest: JobManifest = {
    version: 1,
    jobId,
    input: options.input,
    output: options.output,
    chunkSize,
    images: keys.length,
    chunks,
    createdAt: new Date().toISOString(),
    model: options.model,
    top_k: topK,
  };
  const entries = Array.from({ length: chunks }, (_, chunk): SendMessageBatchRequestEntry => {
    const message: ChunkMessage = {
      jobId,
      chunk,
      input: { bucket: options.input.bucket },
      keys: keys.slice(chunk * chunkSize, (chunk + 1) * chunkSize),
      output: options.output,
      top_k: topK,
    };
    return { Id: String(chunk), MessageBody: JSON.stringify(message) };
  });
  // Grouped before anything is written, so a chunk too large for SQS leaves nothing behind.
  const batches = [...sendBatches(entries)];
  // First, so a job whose messages are being worked on always has its manifest.
  await writeManifest(deps.s3, manifest);

  let queued = 0;
  for (const batch of batches) {
    try {
      await sendBatch(deps.sqs, options.queueUrl, batch);
    } catch (error) {
      // The chunks queued are worked on all the same; say so, with the job id to follow them.
      (error as Error).message += ` (job ${jobId}: ${queued} of ${chunks} chunks were queued)`;
      throw error;
    }
    queued += batch.length;
  }
  return {
    jobId,
    images: keys.length,
    chunks,
    manifest: `s3://${options.output.bucket}/${manifestKey(options.output.prefix, jobId)}`,
  };
}

/** Every image key under the prefix, in S3's order (by UTF-8 bytes), all pages. */
export async function listImageKeys(s3: S3Client, input: S3Prefix): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: input.bucket, Prefix: input.prefix }))
    for (const object of page.Contents ?? []) if (object.Key && isImageKey(object.Key)) keys.push(object.Key);
  return keys;
}

/** The entries in groups SQS takes in one call: at most 10, and at most 256 KiB together. */
function* sendBatches(entries: SendMessageBatchRequestEntry[]): Generator<SendMessageBatchRequestEntry[]> {
  let batch: SendMessageBatchRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = Buffer.byteLength(entry.MessageBody!);
    if (size > BATCH_BYTES)
      throw new SubmitError(`Chunk ${entry.Id}'s message is ${size} bytes, over SQS's limit: use a smaller --chunk.`);
    if (batch.length === BATCH_ENTRIES || bytes + size > BATCH_BYTES) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}

/** Sends one batch; entries SQS fails on its side are sent again, those it blames on the sender are not. */
async function sendBatch(sqs: SQSClient, queueUrl: string, entries: SendMessageBatchRequestEntry[]): Promise<void> {
  let pending = entries;
  for (let attempt = 1; ; attempt++) {
    const { Failed = [] } = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }));
    if (Failed.length === 0) return;
    const final = Failed.filter((failure) => failure.SenderFault);
    if (final.length > 0 || attempt === SEND_ATTEMPTS) {
      const reasons = (final.length > 0 ? final : Failed).map((f) => `chunk ${f.Id}: ${f.Code} ${f.Message ?? ''}`);
      throw new SubmitError(`SQS did not take every message: ${reasons.join('; ')}`);
    }
    const failed = new Set(Failed.map((failure) => failure.Id));
    pending = pending.filter((entry) => failed.has(entry.Id));
    await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
  }
}
