/**
 * Works one chunk of a batch job, the same for the local worker and a Lambda function: classifies
 * its images from S3 with the service's own pipeline (the retriever's `{ s3 }` sources, classifyEach)
 * and writes `<output>/<job-id>/part-<chunk>.jsonl`, one line per key in the message's order. An
 * image that fails is a line saying why, not a failed chunk. Writing the whole part at once makes a
 * redelivered chunk rewrite it rather than add to it. What fails the chunk as a whole (a malformed
 * message, the part not writable, S3 failing) is thrown, so SQS delivers the message again.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ImageResult } from '../schemas.ts';
import { type PredictDeps, classifyEach } from '../service.ts';
import { partKey } from './locations.ts';
import { type ChunkMessage, parseChunkMessage } from './message.ts';

/** What processChunk needs: a classifier and a retriever with S3 sources (createChunkRuntime builds both). */
export interface ChunkDeps extends PredictDeps {
  s3: S3Client;
}

/** One line of a part. */
export type PartLine = ({ key: string } & ImageResult) | { key: string; error: { code: string; message: string } };

export interface ChunkResult {
  jobId: string;
  chunk: number;
  /** The part written: `s3://bucket/key`. */
  part: string;
  images: number;
  classified: number;
  failed: number;
}

/**
 * Images classified at once: their pixels are held until the model has run, so a large chunk is
 * taken a slice at a time to bound memory.
 */
const SLICE = 16;

/**
 * Classifies the chunk's images and writes its part. `message` is the SQS message body (JSON) or
 * the message already parsed; either is checked (MalformedMessageError).
 */
export async function processChunk(
  message: string | ChunkMessage,
  deps: ChunkDeps,
  signal?: AbortSignal,
): Promise<ChunkResult> {
  const { jobId, chunk, input, keys, output, top_k } = parseChunkMessage(message);
  const lines: PartLine[] = [];
  for (let start = 0; start < keys.length; start += SLICE) {
    const slice = keys.slice(start, start + SLICE);
    const images = slice.map((key) => ({ s3: { bucket: input.bucket, key } }));
    const { outcomes } = await classifyEach({ images, top_k }, deps, signal);
    outcomes.forEach((outcome, i) => {
      const key = slice[i]!;
      lines.push(
        outcome.ok
          ? { key, ...outcome.result }
          : { key, error: { code: outcome.error.code, message: outcome.error.message } },
      );
    });
  }
  const Key = partKey(output.prefix, jobId, chunk);
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: output.bucket,
      Key,
      Body: lines.map((line) => `${JSON.stringify(line)}\n`).join(''),
      ContentType: 'application/x-ndjson',
    }),
    { abortSignal: signal },
  );
  const failed = lines.filter((line) => 'error' in line).length;
  return {
    jobId,
    chunk,
    part: `s3://${output.bucket}/${Key}`,
    images: lines.length,
    classified: lines.length - failed,
    failed,
  };
}
