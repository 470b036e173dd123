/**
 * A batch job's manifest, `<output>/<job-id>/manifest.json`: what was asked (input, output, chunk
 * size, top_k, model) and how much there is (images, chunks), written once by submitJob before any
 * chunk is queued. `status` and `results` read it to know which parts to expect.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { type S3Prefix, formatS3Url, jobFolder, manifestKey } from './locations.ts';

export interface JobManifest {
  /** The manifest's format. */
  version: 1;
  jobId: string;
  input: S3Prefix;
  /** The output prefix given; the job's files are under `<prefix>/<jobId>/`. */
  output: S3Prefix;
  chunkSize: number;
  /** Image objects found under the input prefix. */
  images: number;
  /** Chunks queued: one part each. */
  chunks: number;
  /** ISO 8601, UTC. */
  createdAt: string;
  /** The model the job was submitted for (the model folder's name). */
  model: string;
  top_k: number;
}

/** No manifest where the job's should be: a wrong job id or output prefix. */
export class JobNotFoundError extends Error {
  override readonly name = 'JobNotFoundError';
}

export async function writeManifest(s3: S3Client, manifest: JobManifest): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: manifest.output.bucket,
      Key: manifestKey(manifest.output.prefix, manifest.jobId),
      Body: `${JSON.stringify(manifest, null, 2)}\n`,
      ContentType: 'application/json',
    }),
  );
}

export async function readManifest(s3: S3Client, output: S3Prefix, jobId: string): Promise<JobManifest> {
  try {
    const response = await s3.send(
      new GetObjectCommand({ Bucket: output.bucket, Key: manifestKey(output.prefix, jobId) }),
    );
    return JSON.parse(await response.Body!.transformToString()) as JobManifest;
  } catch (error) {
    if (error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NoSuchBucket')) {
      const where = formatS3Url({ bucket: output.bucket, prefix: jobFolder(output.prefix, jobId) });
      throw new JobNotFoundError(`No batch job ${jobId}: ${where}manifest.json does not exist.`, { cause: error });
    }
    throw error;
  }
}
