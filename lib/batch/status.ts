/**
 * A batch job's progress and results, from its manifest and the parts written so far: `status`
 * counts parts, images classified and failed, and failures by code; `results` writes every part,
 * in chunk order, as one JSON-lines stream. Both only read S3, so they can run anywhere, any time.
 */
import { GetObjectCommand, type S3Client, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { semaphore } from '../semaphore.ts';
import { type JobManifest, readManifest } from './manifest.ts';
import { type S3Prefix, chunkOfPartKey, formatS3Url, jobFolder } from './locations.ts';
import type { PartLine } from './process-chunk.ts';

export interface JobStatus {
  jobId: string;
  input: string;
  /** The job's folder: `s3://bucket/<prefix>/<job-id>/`. */
  output: string;
  model: string;
  top_k: number;
  createdAt: string;
  chunks: number;
  partsDone: number;
  /** Every chunk has its part. */
  complete: boolean;
  /** Images the job found when submitted. */
  images: number;
  /** Lines of the parts written so far. */
  classified: number;
  failed: number;
  failuresByCode: Record<string, number>;
  /** The first chunks still without a part (at most 20), to look for in the dead-letter queue. */
  missingChunks: number[];
}

/** Parts read at once. */
const READS = 8;
const MISSING_SHOWN = 20;

/** The job's parts present: chunk number to key, only for chunks the manifest has. */
async function listParts(s3: S3Client, manifest: JobManifest): Promise<Map<number, string>> {
  const parts = new Map<number, string>();
  const Prefix = `${jobFolder(manifest.output.prefix, manifest.jobId)}part-`;
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: manifest.output.bucket, Prefix })) {
    for (const { Key } of page.Contents ?? []) {
      const chunk = Key === undefined ? undefined : chunkOfPartKey(Key);
      if (chunk !== undefined && chunk < manifest.chunks) parts.set(chunk, Key!);
    }
  }
  return parts;
}

async function readPart(s3: S3Client, bucket: string, key: string): Promise<string> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return response.Body!.transformToString();
}

export async function jobStatus(s3: S3Client, output: S3Prefix, jobId: string): Promise<JobStatus> {
  const manifest = await readManifest(s3, output, jobId);
  const parts = await listParts(s3, manifest);
  const slot = semaphore(READS);
  const texts = await Promise.all(
    [...parts.values()].map((key) => slot(() => readPart(s3, manifest.output.bucket, key))),
  );
  let classified = 0;
  const failuresByCode: Record<string, number> = {};
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (!line) continue;
      const entry = JSON.parse(line) as PartLine;
      if ('error' in entry) failuresByCode[entry.error.code] = (failuresByCode[entry.error.code] ?? 0) + 1;
      else classified++;
    }
  }
  const missingChunks: number[] = [];
  for (let chunk = 0; chunk < manifest.chunks && missingChunks.length < MISSING_SHOWN; chunk++)
    if (!parts.has(chunk)) missingChunks.push(chunk);
  return {
    jobId,
    input: formatS3Url(manifest.input),
    output: formatS3Url({ bucket: manifest.output.bucket, prefix: jobFolder(manifest.output.prefix, jobId) }),
    model: manifest.model,
    top_k: manifest.top_k,
    createdAt: manifest.createdAt,
    chunks: manifest.chunks,
    partsDone: parts.size,
    complete: parts.size === manifest.chunks,
    images: manifest.images,
    classified,
    failed: Object.values(failuresByCode).reduce((sum, n) => sum + n, 0),
    failuresByCode,
    missingChunks,
  };
}

/**
 * Writes every part present, in chunk order, to `out` (JSON lines, one per image), one part at a
 * time as it arrives from S3. Returns the chunks written and the job's total: fewer when the job
 * has not finished (or some chunks failed for good).
 */
export async function writeResults(
  s3: S3Client,
  output: S3Prefix,
  jobId: string,
  out: NodeJS.WritableStream,
): Promise<{ parts: number; chunks: number }> {
  const manifest = await readManifest(s3, output, jobId);
  const parts = await listParts(s3, manifest);
  const ordered = [...parts.entries()].sort(([a], [b]) => a - b);
  for (const [, key] of ordered) {
    const response = await s3.send(new GetObjectCommand({ Bucket: manifest.output.bucket, Key: key }));
    for await (const chunk of response.Body as AsyncIterable<Uint8Array>) {
      if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
    }
  }
  return { parts: parts.size, chunks: manifest.chunks };
}
